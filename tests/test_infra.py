"""The deployment (``infra/``, ``azure.yaml``) against the code: every Bicep file parses, the app settings the
Bicep writes are exactly the ones vcaudit or the platform reads, and mailbox permissions are never tenant-wide
Entra app roles.

Runs in the infrastructure venv (``.venv-infra``, from requirements-infra.txt); skipped where pycep-parser is
not installed, as in the main test venv. App-setting names are read from the parsed Bicep, following a
module parameter back to the value its caller passes, not found by pattern matching.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
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
# Flex Consumption takes the runtime from functionAppConfig and refuses these as app settings.
REFUSED_BY_FLEX = ("FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION")
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
    optional = {p["permission"] for p in permissions["applicationPermissions"] if p.get("optional")}
    assert optional == {"EduRoster.Read.All"}


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
    hook = project["hooks"]["postprovision"]
    assert (ROOT / hook["run"]).is_file()


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
