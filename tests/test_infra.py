"""The deployment (``infra/``, ``azure.yaml``) against the code: every Bicep file parses, the app settings the
Bicep writes are exactly the ones vcaudit or the platform reads, and mailbox permissions are never tenant-wide
Entra app roles; nothing Flex Consumption refuses; the webhook key survives re-provisioning; the host key is
set after the app runs; the hooks never block the deployment.

Runs in the infrastructure venv (``.venv-infra``, from requirements-infra.txt); skipped where pycep-parser is
not installed, as in the main test venv. App-setting names are read from the parsed Bicep, following a
module parameter back to the value its caller passes, not found by pattern matching.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.util
import json
import os
import re
import stat
import subprocess
import sys
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pycep = pytest.importorskip("pycep")
yaml = pytest.importorskip("yaml")

from shared.settings import SETTINGS, setting_names  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
PERMISSIONS_FILE = INFRA / "graph-permissions.json"
DEPLOYMENT_GUIDE = ROOT / "README.md"  # its "Deploying vcaudit" section

# App settings the platform, not vcaudit's code, reads. Anything else the Bicep sets must be in SETTINGS.
PLATFORM_SETTINGS = (
    "AzureWebJobsStorage__*",  # identity-based host storage (blob, queue and table service URIs, credential)
    "APPLICATIONINSIGHTS_*",  # telemetry with Entra ID authentication
    "AZURE_CLIENT_ID",  # which managed identity azure-identity's DefaultAzureCredential uses
    "WEBSITE_*",  # App Service platform switches
)
# Flex Consumption: site properties and app settings it does not support ("Flex Consumption plan deprecations").
# ARM refuses a site carrying an unsupported property (error 51021), so provisioning fails.
FLEX_DEPRECATIONS = "https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations"
FLEX_CONSIDERATIONS = "https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#deprecated-properties-and-settings"
REFUSED_SITE_PROPERTIES = {
    # property (under properties or properties.siteConfig) -> the page that lists it
    "ftpsState": FLEX_DEPRECATIONS,  # "FTPS not supported"
    "use32BitWorkerProcess": FLEX_DEPRECATIONS,
    "isReserved": FLEX_DEPRECATIONS,
    "isXenon": FLEX_DEPRECATIONS,
    "windowsFxVersion": FLEX_DEPRECATIONS,
    "alwaysOn": FLEX_DEPRECATIONS,
    "preWarmedInstanceCount": FLEX_DEPRECATIONS,  # functionAppConfig.scaleAndConcurrency.alwaysReady instead
    "functionAppScaleLimit": FLEX_DEPRECATIONS,  # maximumInstanceCount instead
    "containerSize": FLEX_DEPRECATIONS,  # instanceMemoryMB instead
    "javaVersion": FLEX_DEPRECATIONS,
    "powerShellVersion": FLEX_DEPRECATIONS,
    "netFrameworkVersion": FLEX_DEPRECATIONS,
    "linuxFxVersion": FLEX_DEPRECATIONS,  # functionAppConfig.runtime instead
}
REFUSED_APP_SETTINGS = {
    "FUNCTIONS_EXTENSION_VERSION": FLEX_DEPRECATIONS,  # set by the platform
    "FUNCTIONS_WORKER_RUNTIME": FLEX_DEPRECATIONS,  # functionAppConfig.runtime.name
    "FUNCTIONS_WORKER_RUNTIME_VERSION": FLEX_DEPRECATIONS,  # functionAppConfig.runtime.version
    "FUNCTIONS_MAX_HTTP_CONCURRENCY": FLEX_DEPRECATIONS,  # scaleAndConcurrency.triggers.http
    "FUNCTIONS_WORKER_PROCESS_COUNT": FLEX_DEPRECATIONS,
    "FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED": FLEX_DEPRECATIONS,
    "WEBSITE_NODE_DEFAULT_VERSION": FLEX_DEPRECATIONS,
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING": FLEX_DEPRECATIONS,  # functionAppConfig.deployment
    "WEBSITE_CONTENTSHARE": FLEX_DEPRECATIONS,  # functionAppConfig.deployment
    "WEBSITE_RUN_FROM_PACKAGE": FLEX_DEPRECATIONS,
    "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT": FLEX_DEPRECATIONS,  # maximumInstanceCount
    "SCM_DO_BUILD_DURING_DEPLOYMENT": FLEX_DEPRECATIONS,
    "ENABLE_ORYX_BUILD": FLEX_DEPRECATIONS,
}
REFUSED_BY_FLEX = tuple(REFUSED_APP_SETTINGS)
# The lowest maximumInstanceCount accepted in every region; it applies per function group, not to the app.
FLEX_MIN_MAXIMUM_INSTANCES = 40  # https://learn.microsoft.com/azure/azure-functions/event-driven-scaling#limit-scale-out
SCRIPTS = INFRA / "scripts"
# Mailbox permissions: only ever through Exchange RBAC for Applications, scoped to mailboxes.
MAILBOX_PERMISSION = re.compile(r"^(Mail|Calendars|MailboxSettings|Contacts)\.")


# ---- Reading the Bicep ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BicepFile:
    path: Path
    doc: Mapping[str, Any]

    def section(self, name: str) -> Mapping[str, Any]:
        return self.doc.get(name) or {}


@functools.cache
def _parser() -> Any:
    return pycep.BicepParser()


def parse_bicep(path: Path) -> BicepFile:
    return BicepFile(path, _parser().parse(file_path=path))


def parse_tree(root: Path) -> dict[Path, BicepFile]:
    return {path: parse_bicep(path) for path in sorted(root.rglob("*.bicep"))}


def _is_expression(node: Mapping[str, Any]) -> bool:
    return set(node) in ({"function"}, {"operator"})


def _callers(files: Mapping[Path, BicepFile], module: BicepFile, param: str) -> Iterator[tuple[BicepFile, Any]]:
    """Each (file, value) passed for ``param`` by a ``module`` statement that deploys ``module``."""
    for caller in files.values():
        for statement in caller.section("modules").values():
            target = (caller.path.parent / statement["detail"]["path"]).resolve()
            if target == module.path.resolve():
                params = statement["config"].get("params") or {}
                if param in params:
                    yield caller, params[param]


def setting_keys(files: Mapping[Path, BicepFile], file: BicepFile, value: Any) -> set[str]:
    """The keys of the object ``value`` evaluates to: object literals, union(), conditionals, variables and
    module parameters (followed to every caller). Anything else cannot be checked, so it fails the test."""
    if isinstance(value, Mapping):
        if not _is_expression(value):
            return set(value)
        if "function" in value and value["function"]["type"] == "union":
            keys: set[str] = set()
            for argument in value["function"]["parameters"].values():
                keys |= setting_keys(files, file, argument)
            return keys
        if "operator" in value and value["operator"]["type"] == "conditional":
            operands = value["operator"]["operands"]
            return setting_keys(files, file, operands["true_value"]) | setting_keys(
                files, file, operands["false_value"]
            )
    if isinstance(value, str):
        if value in file.section("variables"):
            return setting_keys(files, file, file.section("variables")[value]["value"])
        if value in file.section("parameters"):
            found = [setting_keys(files, caller, passed) for caller, passed in _callers(files, file, value)]
            default = file.section("parameters")[value].get("default")
            if default is not None:
                found.append(setting_keys(files, file, default))
            if not found:
                raise AssertionError(f"{file.path.name}: no module passes the app-settings parameter {value!r}")
            return set().union(*found)
    raise AssertionError(f"{file.path.name}: cannot read app-setting names from {value!r}")


def app_settings_by_file(files: Mapping[Path, BicepFile]) -> dict[str, set[str]]:
    """Every app-setting name the Bicep writes, by the file that writes it: ``Microsoft.Web/sites/config``
    resources named ``appsettings`` and ``siteConfig.appSettings`` of sites."""
    found: dict[str, set[str]] = {}
    for file in files.values():
        for resource in file.section("resources").values():
            config = resource.get("config") or {}
            names: set[str] = set()
            if resource["type"] == "Microsoft.Web/sites/config" and config.get("name") == "appsettings":
                names |= setting_keys(files, file, config.get("properties") or {})
            if resource["type"] in ("Microsoft.Web/sites", "Microsoft.Web/sites/slots"):
                site_config = (config.get("properties") or {}).get("siteConfig") or {}
                for entry in site_config.get("appSettings") or []:
                    names.add(entry["name"])
            if names:
                found.setdefault(file.path.name, set()).update(names)
    return found


def all_app_settings(files: Mapping[Path, BicepFile]) -> set[str]:
    return set().union(*app_settings_by_file(files).values()) if files else set()


def is_platform_setting(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in PLATFORM_SETTINGS)


# ---- The checks, as functions so the tests below can show each one failing ------------------------


def unset_settings(written: set[str], guide: str) -> list[str]:
    """Settings the code reads that the deployment neither writes nor documents as optional (with a default)."""
    problems = []
    for setting in SETTINGS:
        if setting.name in written:
            continue
        if setting.required:
            problems.append(f"{setting.name} is required but the Bicep does not set it")
        elif setting.default is None:
            problems.append(f"{setting.name} has no default and the Bicep does not set it")
        elif setting.name not in guide:
            problems.append(f"{setting.name} is left to its default but README.md does not mention it")
    return problems


def unread_settings(written: set[str]) -> list[str]:
    """Settings the Bicep writes that neither vcaudit nor the platform reads."""
    known = set(setting_names())
    return sorted(name for name in written if name not in known and not is_platform_setting(name))


def mailbox_app_roles(permissions: Mapping[str, Any], files: Mapping[Path, BicepFile]) -> list[str]:
    """Mailbox permissions that would be granted as Entra app roles (tenant-wide)."""
    granted = [p["permission"] for p in permissions["applicationPermissions"]]
    found = [permission for permission in granted if MAILBOX_PERMISSION.match(permission)]
    for file in files.values():
        for name, resource in file.section("resources").items():
            if resource["type"].lower().startswith("microsoft.graph/approleassignedto"):
                text = json.dumps(resource["config"])
                found += [f"{file.path.name}:{name}: {m}" for m in re.findall(r"(?:Mail|Calendars)\.[A-Za-z.]+", text)]
    return found


def refused_site_properties(files: Mapping[Path, BicepFile]) -> list[str]:
    """Site properties Flex Consumption does not support, as ``file:resource: property``: on sites (their
    properties and siteConfig) and on ``Microsoft.Web/sites/config`` resources named ``web``."""
    refused = {name.lower(): name for name in REFUSED_SITE_PROPERTIES}
    found = []
    for file in files.values():
        for name, resource in file.section("resources").items():
            config = resource.get("config") or {}
            properties = config.get("properties")
            blocks: list[Any] = []
            is_site = resource["type"] in ("Microsoft.Web/sites", "Microsoft.Web/sites/slots")
            if is_site and isinstance(properties, dict):
                blocks = [properties, properties.get("siteConfig") or {}]
            elif resource["type"] == "Microsoft.Web/sites/config" and config.get("name") == "web":
                blocks = [properties or {}]
            for block in blocks:
                if isinstance(block, dict):
                    found += [f"{file.path.name}:{name}: {key}" for key in block if key.lower() in refused]
    return found


def host_key_resources(files: Mapping[Path, BicepFile]) -> list[str]:
    """Function keys created by the deployment: they go through the running host and race its settings."""
    key_type = re.compile(r"Microsoft\.Web/sites/(host/functionKeys|functions/keys)", re.IGNORECASE)
    return [f"{file.path.name}:{name}" for file in files.values()
            for name, resource in file.section("resources").items() if key_type.match(resource["type"])]


def decorator(node: Mapping[str, Any], kind: str) -> Any:
    """The argument of a parameter's decorator (pycep: ``decorators`` list, snake_case: ``min_value`` for
    ``@minValue``), True for one without argument (``secure``), or None when absent."""
    for entry in node.get("decorators") or []:
        if entry.get("type") == kind:
            return entry.get("argument", True)
    return None


def load_script(name: str) -> types.ModuleType:
    """One of the standard-library hook scripts in infra/scripts, as a module."""
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), SCRIPTS / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def render_parameters(text: str, env: Mapping[str, str]) -> dict[str, Any]:
    """main.parameters.json as azd renders it: ``${NAME}`` and ``${NAME=default}`` from the azd environment."""

    def substitute(match: re.Match[str]) -> str:
        name, _, default = match.group(1).partition("=")
        return json.dumps(env.get(name, default))[1:-1]

    return json.loads(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*(?:=[^}]*)?)\}", substitute, text))["parameters"]


FAKE_AZD = """#!{python}
import json, os, sys
store = os.environ["FAKE_AZD_STORE"]
values = json.load(open(store)) if os.path.exists(store) else {{}}
args = sys.argv[1:]
if args[:2] == ["env", "get-value"]:
    if args[2] not in values:
        print(f"ERROR: key '{{args[2]}}' not found in the environment values", file=sys.stderr)
        sys.exit(1)
    print(values[args[2]])
elif args[:2] == ["env", "set"]:
    values[args[2]] = args[3]
    json.dump(values, open(store, "w"))
else:
    sys.exit(2)
"""


def fake_azd(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has an ``azd`` that keeps ``azd env`` values in a file, as azd's .env does."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    azd = bin_dir / "azd"
    azd.write_text(FAKE_AZD.format(python=sys.executable))
    azd.chmod(azd.stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCAUDIT_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["FAKE_AZD_STORE"] = str(tmp_path / "azd-env.json")
    return env


def azd_values(env: Mapping[str, str]) -> dict[str, str]:
    store = Path(env["FAKE_AZD_STORE"])
    return json.loads(store.read_text()) if store.exists() else {}


# ---- Fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def infra() -> dict[Path, BicepFile]:
    return parse_tree(INFRA)


@pytest.fixture(scope="module")
def written(infra: dict[Path, BicepFile]) -> set[str]:
    return all_app_settings(infra)


@pytest.fixture(scope="module")
def permissions() -> dict[str, Any]:
    return json.loads(PERMISSIONS_FILE.read_text())


@pytest.fixture(scope="module")
def guide() -> str:
    return DEPLOYMENT_GUIDE.read_text()


def write_bicep(tmp_path: Path, files: Mapping[str, str]) -> dict[Path, BicepFile]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return parse_tree(tmp_path)


SITE = """
param appSettings object
resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: 'func'
}
resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: union(appSettings, {
    AZURE_CLIENT_ID: 'x'
  })
}
"""


# ---- (a) every Bicep file parses ------------------------------------------------------------------


def test_there_is_bicep_to_check() -> None:
    assert (INFRA / "main.bicep").is_file()
    assert len(list(INFRA.rglob("*.bicep"))) >= 2


@pytest.mark.parametrize("path", sorted(INFRA.rglob("*.bicep")), ids=lambda p: str(p.relative_to(INFRA)))
def test_every_bicep_file_parses(path: Path) -> None:
    parsed = parse_bicep(path)
    assert parsed.section("resources") or parsed.section("modules"), f"{path.name} declares nothing"


def test_a_file_pycep_cannot_parse_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.bicep"
    broken.write_text("resource x 'Microsoft.Web/sites@2024-04-01' = {\n  name: 'a'\n")
    with pytest.raises(Exception):  # noqa: B017 - pycep raises lark's or its own errors
        parse_bicep(broken)


# ---- (b) every setting the code reads is set or optional ---------------------------------------------


def test_bicep_writes_app_settings_through_a_module_parameter(written: set[str]) -> None:
    # The resolver follows main.bicep's schoolSettings into the function-app module.
    assert "VCAUDIT_TENANT_ID" in written
    assert "AzureWebJobsStorage__credential" in written


def test_every_setting_the_code_reads_is_set_or_optional(written: set[str], guide: str) -> None:
    assert unset_settings(written, guide) == []


def test_every_required_setting_is_set_by_the_bicep(written: set[str]) -> None:
    required = {s.name for s in SETTINGS if s.required}
    assert required, "shared.settings declares no required setting"
    assert required <= written


def test_a_required_setting_missing_from_the_bicep_is_reported(written: set[str], guide: str) -> None:
    required = next(s.name for s in SETTINGS if s.required)
    assert unset_settings(written - {required}, guide) == [f"{required} is required but the Bicep does not set it"]


def test_an_optional_setting_left_out_must_be_documented(written: set[str]) -> None:
    optional = next(s.name for s in SETTINGS if not s.required and s.name in written)
    problems = unset_settings(written - {optional}, guide="")
    assert f"{optional} is left to its default but README.md does not mention it" in problems
    assert optional not in " ".join(unset_settings(written - {optional}, guide=optional))


def test_a_setting_passed_by_the_caller_is_followed(tmp_path: Path) -> None:
    files = write_bicep(
        tmp_path,
        {
            "app.bicep": SITE,
            "main.bicep": "var school = {\n  VCAUDIT_TENANT_ID: 't'\n}\n"
            "module app 'app.bicep' = {\n  name: 'app'\n  params: {\n    appSettings: school\n  }\n}\n",
        },
    )
    assert all_app_settings(files) == {"VCAUDIT_TENANT_ID", "AZURE_CLIENT_ID"}


# ---- (c) no setting that nobody reads ---------------------------------------------------------------


def test_bicep_sets_no_setting_that_nobody_reads(written: set[str]) -> None:
    assert unread_settings(written) == []


def test_a_misspelt_setting_is_reported(tmp_path: Path) -> None:
    files = write_bicep(
        tmp_path,
        {
            "app.bicep": SITE,
            "main.bicep": "module app 'app.bicep' = {\n  name: 'app'\n  params: {\n    appSettings: {\n"
            "      VCAUDIT_TENANT: 't'\n      VCAUDIT_TIME_ZONE: 'Europe/London'\n    }\n  }\n}\n",
        },
    )
    assert unread_settings(all_app_settings(files)) == ["VCAUDIT_TENANT"]


def test_policy_keys_are_not_app_settings(written: set[str]) -> None:
    from shared.settings import POLICY_KEYS_AS_SETTINGS

    assert not written & set(POLICY_KEYS_AS_SETTINGS)


def test_policy_file_setting_points_at_the_shipped_policy(infra: dict[Path, BicepFile]) -> None:
    main = infra[INFRA / "main.bicep"]
    assert main.section("variables")["policyFile"]["value"] == "policy.toml"
    assert main.section("variables")["schoolSettings"]["value"]["VCAUDIT_POLICY_FILE"] == "policyFile"


# ---- (d) nothing Flex Consumption refuses ----------------------------------------------------------


def test_flex_consumption_refused_settings_are_not_set(written: set[str]) -> None:
    assert not written & set(REFUSED_BY_FLEX)


def test_a_worker_runtime_setting_would_be_found(tmp_path: Path) -> None:
    files = write_bicep(
        tmp_path,
        {
            "site.bicep": "resource site 'Microsoft.Web/sites@2024-04-01' = {\n  name: 'f'\n  properties: {\n"
            "    siteConfig: {\n      appSettings: [\n        {\n          name: 'FUNCTIONS_WORKER_RUNTIME'\n"
            "          value: 'python'\n        }\n      ]\n    }\n  }\n}\n",
        },
    )
    assert all_app_settings(files) & set(REFUSED_BY_FLEX) == {"FUNCTIONS_WORKER_RUNTIME"}


def test_function_app_is_flex_consumption_python_311(infra: dict[Path, BicepFile]) -> None:
    app = infra[INFRA / "modules" / "function-app.bicep"]
    plan = app.section("resources")["plan"]["config"]
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    flex = app.section("resources")["functionApp"]["config"]["properties"]["functionAppConfig"]
    assert flex["runtime"] == {"name": "python", "version": "3.11"}
    scale = flex["scaleAndConcurrency"]
    assert scale["maximumInstanceCount"] == "maximumInstanceCount"
    assert [entry["name"] for entry in scale["alwaysReady"]] == ["http"]
    assert flex["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"


def test_storage_refuses_shared_keys_and_public_blobs(infra: dict[Path, BicepFile]) -> None:
    account = infra[INFRA / "modules" / "storage.bicep"].section("resources")["storage"]["config"]["properties"]
    assert account["allowSharedKeyAccess"] is False
    assert account["allowBlobPublicAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"


def test_application_insights_refuses_local_auth(infra: dict[Path, BicepFile]) -> None:
    component = infra[INFRA / "modules" / "monitoring.bicep"].section("resources")["applicationInsights"]
    assert component["config"]["properties"]["DisableLocalAuth"] is True


def test_webhooks_are_outside_app_service_authentication(infra: dict[Path, BicepFile]) -> None:
    auth = infra[INFRA / "modules" / "function-app.bicep"].section("resources")["authSettings"]["config"]
    validation = auth["properties"]["globalValidation"]
    assert validation["requireAuthentication"] is True
    excluded = validation["excludedPaths"]
    assert {"/api/graph/notifications", "/api/graph/lifecycle"} <= set(excluded)
    assert not [p for p in excluded if re.match(r"/api/(findings|meetings|consent)", p)]


# ---- (e) no tenant-wide mailbox permission -----------------------------------------------------------


def test_no_mailbox_permission_is_an_entra_app_role(permissions: dict[str, Any], infra: dict[Path, BicepFile]) -> None:
    assert mailbox_app_roles(permissions, infra) == []


def test_a_tenant_wide_mail_send_would_be_reported(permissions: dict[str, Any]) -> None:
    granted = [*permissions["applicationPermissions"], {"permission": "Mail.Send"}]
    widened = {**permissions, "applicationPermissions": granted}
    assert mailbox_app_roles(widened, {}) == ["Mail.Send"]


def test_mailbox_permissions_go_through_exchange_rbac(permissions: dict[str, Any]) -> None:
    roles = {p["permission"]: p["exchangeRole"] for p in permissions["mailboxRoles"]}
    assert roles == {"Mail.Send": "Application Mail.Send", "Calendars.Read": "Application Calendars.Read"}
    script = (INFRA / "scripts" / "grant-mailbox-access.ps1").read_text()
    for role in roles.values():
        assert f"-Role '{role}'" in script
    assert "-CustomResourceScope" in script


def test_graph_permissions_are_the_ones_the_design_names(permissions: dict[str, Any]) -> None:
    granted = {p["permission"] for p in permissions["applicationPermissions"]}
    assert granted == {
        "CallRecordings.Read.All",
        "CallTranscripts.Read.All",
        "OnlineMeetings.ReadWrite.All",
        "OnlineMeetings.Read.All",
        "OnlineMeetingArtifact.Read.All",
        "CallRecords.Read.All",
        "OnlineMeetingRecording.Read.All",
        "OnlineMeetingTranscript.Read.All",
        "User.Read.All",
        "GroupMember.Read.All",
        "Channel.ReadBasic.All",
        "EduRoster.Read.All",
    }
    optional = {p["permission"]: p["grantedWhen"] for p in permissions["applicationPermissions"] if p.get("optional")}
    assert optional == {
        "EduRoster.Read.All": {"variable": "GRANT_EDUROSTER_FALLBACK", "default": True},
        "CallRecordings.Read.All": {"variable": "VCAUDIT_WATCH_ADHOC_CALLS", "default": False},
        "CallTranscripts.Read.All": {"variable": "VCAUDIT_WATCH_ADHOC_CALLS", "default": False},
        "OnlineMeetings.ReadWrite.All": {"variable": "VCAUDIT_ENFORCE_ALLOWED", "default": False},
    }


def test_each_optional_permission_switch_reaches_the_app_and_the_grant_script(
    permissions: dict[str, Any], infra: dict[Path, BicepFile], written: set[str]
) -> None:
    """A permission granted only when an azd parameter is on: the same azd variable feeds the Bicep parameter
    (main.parameters.json), which writes the app setting of that name (so the code knows), and is an output
    (so the grant script, run later, reads the same value)."""
    rendered = (INFRA / "main.parameters.json").read_text()
    main = infra[INFRA / "main.bicep"]
    switches = {p["grantedWhen"]["variable"] for p in permissions["applicationPermissions"] if p.get("optional")}
    for variable in switches - {"GRANT_EDUROSTER_FALLBACK"}:
        assert f"${{{variable}=false}}" in rendered, variable
        assert variable in written, f"{variable} is not written as an app setting"
        assert variable in main.section("outputs"), f"{variable} is not an output the grant script can read"
        assert variable in setting_names()


def test_every_permission_has_its_reason_and_scope(permissions: dict[str, Any]) -> None:
    for entry in permissions["applicationPermissions"] + permissions["mailboxRoles"]:
        for key in ("why", "reads", "scope"):
            assert entry.get(key, "").strip(), f"{entry['permission']} has no {key}"


def test_every_permission_is_in_the_sign_off_table(permissions: dict[str, Any], guide: str) -> None:
    for entry in permissions["applicationPermissions"] + permissions["mailboxRoles"]:
        assert f"| `{entry['permission']}` |" in guide, f"{entry['permission']} missing from README.md"


def test_graph_grant_script_reads_the_permission_list_and_refuses_mailbox_roles() -> None:
    script = (INFRA / "scripts" / "grant-graph-permissions.ps1").read_text()
    assert "graph-permissions.json" in script
    assert "applicationPermissions" in script
    assert "(Mail|Calendars|MailboxSettings|Contacts)" in script


# ---- azd wiring ----------------------------------------------------------------------------------


def test_azure_yaml_deploys_this_folder_as_a_python_function(infra: dict[Path, BicepFile]) -> None:
    project = yaml.safe_load((ROOT / "azure.yaml").read_text())
    service_name = infra[INFRA / "main.bicep"].section("variables")["serviceName"]["value"]
    assert project["services"] == {service_name: {"project": ".", "language": "python", "host": "function"}}


HOOKS = {  # hook -> (script, may it stop azd?)
    "preprovision": ("webhook_key.py ensure", True),  # provisioning without the key would fail anyway
    "postprovision": ("postprovision.py", False),
    "postdeploy": ("set_host_key.py", False),
}


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_each_hook_runs_its_script_on_every_platform(hook: str) -> None:
    project = yaml.safe_load((ROOT / "azure.yaml").read_text())
    script, blocking = HOOKS[hook]
    for platform in ("posix", "windows"):
        config = project["hooks"][hook][platform]
        command = config["run"].split()
        assert command[0] in ("python3", "python") and " ".join(command[1:]).endswith(script)
        assert (ROOT / command[1]).is_file(), command[1]
        assert config["continueOnError"] is (not blocking), f"{hook} ({platform}) must not block the deployment"


def test_main_parameters_name_only_main_bicep_parameters(infra: dict[Path, BicepFile]) -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    declared = infra[INFRA / "main.bicep"].section("parameters")
    assert set(parameters) <= set(declared)
    assert infra[INFRA / "main.bicep"].section("globals")["scope"]["value"] == "subscription"


def test_webhook_url_is_an_output(infra: dict[Path, BicepFile]) -> None:
    outputs = infra[INFRA / "main.bicep"].section("outputs")
    assert outputs["GRAPH_NOTIFICATION_URL"]["value"] == "${baseUrl}/api/graph/notifications"
    assert outputs["GRAPH_LIFECYCLE_URL"]["value"] == "${baseUrl}/api/graph/lifecycle"


def test_every_module_gets_the_parameters_it_declares(infra: dict[Path, BicepFile]) -> None:
    for caller in infra.values():
        for name, statement in caller.section("modules").items():
            target = infra[(caller.path.parent / statement["detail"]["path"]).resolve()]
            declared = target.section("parameters")
            required = {p for p, spec in declared.items() if "default" not in spec}
            passed = set(statement["config"].get("params") or {})
            assert passed <= set(declared), f"{name}: unknown parameters {passed - set(declared)}"
            assert required <= passed, f"{name}: missing parameters {required - passed}"


def test_every_module_output_used_is_declared(infra: dict[Path, BicepFile]) -> None:
    for caller in infra.values():
        text = caller.path.read_text()
        for name, statement in caller.section("modules").items():
            target = infra[(caller.path.parent / statement["detail"]["path"]).resolve()]
            used = set(re.findall(rf"\b{name}\.outputs\.(\w+)", text))
            assert used <= set(target.section("outputs")), (
                f"{name}: undeclared outputs {used - set(target.section('outputs'))}"
            )


# ---- (f) Flex Consumption rules ------------------------------------------------------------------


def test_no_site_property_flex_consumption_refuses(infra: dict[Path, BicepFile]) -> None:
    assert refused_site_properties(infra) == []


def test_no_app_setting_flex_consumption_refuses(written: set[str]) -> None:
    assert sorted(written & set(REFUSED_APP_SETTINGS)) == []


def test_every_flex_rule_names_the_page_it_comes_from() -> None:
    for rule, page in {**REFUSED_SITE_PROPERTIES, **REFUSED_APP_SETTINGS}.items():
        assert page.startswith("https://learn.microsoft.com/"), rule


def test_an_ftps_state_on_a_flex_site_would_be_found(tmp_path: Path) -> None:
    files = write_bicep(tmp_path, {"site.bicep": "resource site 'Microsoft.Web/sites@2024-04-01' = {\n  name: 'f'\n"
                                   "  properties: {\n    siteConfig: {\n      minTlsVersion: '1.2'\n"
                                   "      ftpsState: 'Disabled'\n    }\n  }\n}\n"})
    assert refused_site_properties(files) == ["site.bicep:site: ftpsState"]


def test_scale_out_default_is_accepted_in_every_region(infra: dict[Path, BicepFile]) -> None:
    for path in (INFRA / "main.bicep", INFRA / "modules" / "function-app.bicep"):
        spec = infra[path].section("parameters")["maximumInstanceCount"]
        assert decorator(spec, "min_value") == FLEX_MIN_MAXIMUM_INSTANCES, path.name
    assert infra[INFRA / "main.bicep"].section("parameters")["maximumInstanceCount"]["default"] >= 40


def test_sign_in_uses_the_current_issuer(infra: dict[Path, BicepFile]) -> None:
    auth = infra[INFRA / "modules" / "function-app.bicep"].section("resources")["authSettings"]["config"]
    issuer = json.dumps(auth["properties"]["identityProviders"]["azureActiveDirectory"]["registration"])
    assert "sts.windows.net" not in issuer
    assert "loginEndpoint" in issuer and "/v2.0" in issuer


def test_admin_app_roles_are_the_ones_the_code_checks() -> None:
    roles = json.loads((INFRA / "admin-app-roles.json").read_text())
    auth = (ROOT / "shared" / "admin" / "auth.py").read_text()
    checked = set(re.findall(r'^(?:READER|ADMIN) = "([^"]+)"', auth, re.MULTILINE))
    assert {r["value"] for r in roles} == checked == {"vcaudit.reader", "vcaudit.admin"}
    assert all(r["isEnabled"] and r["allowedMemberTypes"] == ["User"] for r in roles)


# ---- (g) the host key after the app runs ---------------------------------------------------------------


def test_no_function_key_is_created_by_the_bicep(infra: dict[Path, BicepFile]) -> None:
    """A sites/host/functionKeys resource goes through the running host and races the app settings and role
    assignments; the postdeploy hook sets the key once the code is deployed."""
    assert host_key_resources(infra) == []


def test_a_host_key_resource_would_be_found(tmp_path: Path) -> None:
    files = write_bicep(tmp_path, {"k.bicep": "resource key 'Microsoft.Web/sites/host/functionKeys@2024-04-01' = {\n"
                                   "  name: 'f/default/graph-webhook'\n  properties: {\n    value: 'x'\n  }\n}\n"})
    assert host_key_resources(files) == ["k.bicep:key"]


class FakeAz:
    """``az functionapp keys list|set`` against a host that is not ready for ``not_ready`` calls."""

    def __init__(self, not_ready: int = 0, key: str | None = None) -> None:
        self.not_ready = not_ready
        self.keys: dict[str, str] = {} if key is None else {"graph-webhook": key}
        self.calls: list[list[str]] = []

    def __call__(self, argv: Any) -> Any:
        argv = list(argv)
        self.calls.append(argv)
        result = types.SimpleNamespace(returncode=0, stdout="", stderr="")
        if self.not_ready > 0:
            self.not_ready -= 1
            result.returncode, result.stderr = 1, "ERROR: Operation returned an invalid status 'Bad Request'"
            return result
        if argv[:4] == ["az", "functionapp", "keys", "list"]:
            result.stdout = json.dumps({"functionKeys": dict(self.keys), "masterKey": "m" * 40})
        elif argv[:4] == ["az", "functionapp", "keys", "set"]:
            self.keys[argv[argv.index("--key-name") + 1]] = argv[argv.index("--key-value") + 1]
        return result

    def sets(self) -> int:
        return sum(1 for call in self.calls if call[:4] == ["az", "functionapp", "keys", "set"])


def test_host_key_is_set_once_the_host_answers() -> None:
    hook = load_script("set_host_key.py")
    az, waits = FakeAz(not_ready=3), []
    outcome = hook.set_host_key(az, "rg", "func", "k" * 64, sleep=waits.append)
    assert outcome == ("set", "")
    assert az.keys == {"graph-webhook": "k" * 64} and az.sets() == 1
    assert waits == [10.0, 20.0, 40.0]  # back-off while the new app starts


def test_host_key_already_right_is_left_alone() -> None:
    hook = load_script("set_host_key.py")
    az = FakeAz(key="k" * 64)
    assert hook.set_host_key(az, "rg", "func", "k" * 64, sleep=lambda s: None) == ("kept", "")
    assert az.sets() == 0


def test_host_key_that_never_takes_is_reported_without_failing_the_deployment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = load_script("set_host_key.py")
    for name, value in {"AZURE_RESOURCE_GROUP": "rg", "AZURE_FUNCTION_APP_NAME": "func",
                        "VCAUDIT_WEBHOOK_KEY": "k" * 64, "SERVICE_API_URI": ""}.items():
        monkeypatch.setenv(name, value)
    az = FakeAz(not_ready=1000)
    assert hook.main(runner=az, sleep=lambda s: None) == 0
    out = capsys.readouterr().out
    assert "NOT SET after 8 attempts" in out and "Bad Request" in out
    assert "az functionapp keys set --resource-group rg --name func --key-type functionKeys" in out


def test_renewing_subscriptions_uses_the_master_key_on_the_admin_route() -> None:
    hook = load_script("set_host_key.py")
    seen: list[tuple[str, dict[str, str]]] = []

    def post(url: str, headers: dict[str, str]) -> int:
        seen.append((url, headers))
        return 202

    assert hook.renew_subscriptions({"masterKey": "m"}, "https://func.azurewebsites.net", post) == "started"
    assert seen == [("https://func.azurewebsites.net/admin/functions/subscriptions_timer",
                     {"x-functions-key": "m", "Content-Type": "application/json"})]
    assert hook.renew_subscriptions({}, "https://x", post).startswith("skipped")


# ---- (h) re-provisioning changes nothing --------------------------------------------------------------


def test_webhook_key_has_no_generated_default(infra: dict[Path, BicepFile]) -> None:
    spec = infra[INFRA / "main.bicep"].section("parameters")["webhookKey"]
    assert spec.get("default") is None, "a default such as newGuid() rotates the key on every azd provision"
    assert decorator(spec, "secure") is not None
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["webhookKey"] == {"value": "${VCAUDIT_WEBHOOK_KEY}"}


def test_reprovision_dry_run_renders_the_same_webhook_key(tmp_path: Path) -> None:
    """The preprovision hook run twice (two `azd provision`s) against one azd environment, each followed by
    rendering main.parameters.json as azd does: the same key both times, and it is a usable function key."""
    env = fake_azd(tmp_path)
    template = (INFRA / "main.parameters.json").read_text()
    rendered = []
    for _ in range(2):
        done = subprocess.run([sys.executable, str(SCRIPTS / "webhook_key.py"), "ensure"], env=env,
                              capture_output=True, text=True, check=False, timeout=60)
        assert done.returncode == 0, done.stderr
        rendered.append(render_parameters(template, azd_values(env))["webhookKey"]["value"])
    assert "generated" in done.stdout or "kept" in done.stdout
    assert rendered[0] == rendered[1] == azd_values(env)["VCAUDIT_WEBHOOK_KEY"]
    assert len(rendered[0]) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", rendered[0])


def test_rotating_the_webhook_key_is_a_deliberate_command(tmp_path: Path) -> None:
    env = fake_azd(tmp_path)
    script = [sys.executable, str(SCRIPTS / "webhook_key.py")]
    subprocess.run([*script, "ensure"], env=env, check=True, capture_output=True, timeout=60)
    first = azd_values(env)["VCAUDIT_WEBHOOK_KEY"]
    done = subprocess.run([*script, "rotate"], env=env, check=True, capture_output=True, text=True, timeout=60)
    assert azd_values(env)["VCAUDIT_WEBHOOK_KEY"] != first
    assert "azd provision" in done.stdout and "azd hooks run postdeploy" in done.stdout


def test_ensure_replaces_only_a_missing_or_unusable_key() -> None:
    hook = load_script("webhook_key.py")
    store: dict[str, str] = {}
    key, created = hook.ensure(lambda n: store.get(n, ""), store.__setitem__)
    assert created and store["VCAUDIT_WEBHOOK_KEY"] == key
    assert hook.ensure(lambda n: store.get(n, ""), store.__setitem__) == (key, False)
    store["VCAUDIT_WEBHOOK_KEY"] = "short"
    assert hook.ensure(lambda n: store.get(n, ""), store.__setitem__)[1] is True


# ---- (i) hooks that never block the deployment ---------------------------------------------------------


def test_postprovision_without_powershell_says_what_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    hook = load_script("postprovision.py")
    assert hook.main(runner=lambda argv: None, live=lambda argv: None, sleep=lambda s: None,
                     which=lambda name: None) == 0
    out = capsys.readouterr().out
    assert "NOT GRANTED" in out and "PowerShell 7.2 or later (pwsh) is not installed" in out
    assert "azd hooks run postprovision" in out and "grant-teams-access-policy.ps1" in out


def test_postprovision_names_a_missing_module() -> None:
    hook = load_script("postprovision.py")

    def runner(argv: Any) -> Any:
        out = "7.4.6" if "PSVersion" in argv[-1] else "Microsoft.Graph.Authentication"
        return types.SimpleNamespace(returncode=0, stdout=out, stderr="")

    problems = hook.missing_prerequisites(runner, which=lambda name: "/usr/bin/pwsh")
    assert problems == ["PowerShell module Microsoft.Graph.Applications is missing: "
                        "pwsh -Command 'Install-Module Microsoft.Graph.Applications -Scope CurrentUser'"]


def test_postprovision_retries_while_the_new_identity_is_unknown() -> None:
    hook = load_script("postprovision.py")
    answers = [(1, "Get-MgServicePrincipal: Resource 'abc' does not exist or one of its queried reference-property "
                   "objects are not present."),
               (1, "Request_ResourceNotFound"),
               (0, "  granted  User.Read.All")]
    waits: list[float] = []

    def runner(argv: Any) -> Any:
        code, out = answers.pop(0)
        return types.SimpleNamespace(returncode=code, stdout=out, stderr="")

    assert hook.grant(runner, sleep=waits.append) == ("granted", "granted  User.Read.All")
    assert waits == [15.0, 30.0]


def test_postprovision_reports_a_denied_grant_at_once() -> None:
    hook = load_script("postprovision.py")
    calls: list[Any] = []

    def runner(argv: Any) -> Any:
        calls.append(argv)
        return types.SimpleNamespace(returncode=1, stdout="Authorization_RequestDenied: Insufficient privileges",
                                     stderr="")

    outcome, last = hook.grant(runner, sleep=lambda s: None)
    assert outcome == "denied" and len(calls) == 1
    text = "\n".join(hook.report(outcome, last))
    assert "Privileged Role Administrator" in text and "azd hooks run postprovision" in text
