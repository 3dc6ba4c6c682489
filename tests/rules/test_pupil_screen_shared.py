"""pupil-screen-shared: segments decide (media labelled applicationsharing-video with a stream flowing from the
pupil); only a session with no segment media at all falls back to its modalities (evidence: possible)."""

from __future__ import annotations

from shared.policy.catalogue import catalogue
from tests.builders import (
    AMELIA,
    GUEST,
    OLIVER,
    TA,
    TEACHER,
    av_media,
    call_record,
    channel_lesson,
    evaluate,
    evidence_text,
    finding,
    media,
    participant_endpoint,
    peer_to_peer,
    rules,
    screen_share,
    session,
    subjects,
)

CAPITALISED_SERVICE = "#Microsoft.Graph.CallRecords.ServiceEndpoint"
CAPITALISED_PARTICIPANT = "#Microsoft.Graph.CallRecords.ParticipantEndpoint"


def lesson(*extra_sessions):
    bundle = channel_lesson()
    bundle["callRecord"] = call_record([session(TEACHER, "08:58", "09:46"), session(AMELIA, "09:00", "09:45"),
                                        session(OLIVER, "09:00", "09:45"), *extra_sessions])
    return bundle


def sharers(ev):
    return subjects(ev, "pupil-screen-shared")


def test_pupil_sending_a_screen_share_is_pupil_screen_shared():
    bundle = lesson(session(AMELIA, "09:10", "09:20", modalities=("audio", "screenSharing"),
                            media_list=[*av_media(), screen_share("callerToCallee")]))
    f = finding(evaluate(bundle), "pupil-screen-shared", AMELIA.id)
    assert f.severity == "high"
    assert "applicationsharing-video" in evidence_text(f)
    assert "possible" not in evidence_text(f)  # segments proved it: a certain share


def test_no_screen_share_in_the_lesson_raises_nothing():
    assert sharers(evaluate(lesson())) == set()


def test_teacher_sharing_is_not_a_pupil_screen_share():
    bundle = lesson(session(TEACHER, "09:10", "09:20", modalities=("screenSharing",),
                            media_list=[screen_share("callerToCallee")]))
    assert sharers(evaluate(bundle)) == set()


def test_pupil_viewing_the_teachers_share_is_not_sharing():
    # viewers list the modality too; their segment only receives the share
    bundle = lesson(session(AMELIA, "09:10", "09:20", modalities=("audio", "screenSharing"),
                            media_list=[*av_media(), screen_share("calleeToCaller")]))
    assert sharers(evaluate(bundle)) == set()


def test_modality_without_a_share_in_the_segment_media_is_not_sharing():
    bundle = lesson(session(AMELIA, "09:10", "09:20", modalities=("audio", "video", "screenSharing"),
                            media_list=av_media()))
    assert sharers(evaluate(bundle)) == set()


def test_screen_sharing_modality_without_any_segment_media_is_a_possible_share():
    bundle = lesson(session(AMELIA, "09:10", "09:20", modalities=("audio", "screenSharing"), media_list=[]))
    f = finding(evaluate(bundle), "pupil-screen-shared", AMELIA.id)
    assert "possible" in evidence_text(f)


def test_video_based_screen_sharing_modality_without_segments_is_a_possible_share():
    bundle = lesson(session(AMELIA, "09:10", "09:20", modalities=("videoBasedScreenSharing",), segments=[]))
    f = finding(evaluate(bundle), "pupil-screen-shared", AMELIA.id)
    assert "possible" in evidence_text(f)


def test_pupil_sharing_twice_gives_one_finding():
    share = [*av_media(), screen_share()]
    bundle = lesson(session(AMELIA, "09:10", "09:12", modalities=("screenSharing",), media_list=share),
                    session(AMELIA, "09:30", "09:32", modalities=("screenSharing",), media_list=share))
    ev = evaluate(bundle)
    assert [f.subject for f in ev.findings if f.rule == "pupil-screen-shared"] == [AMELIA.id]


def test_two_pupils_sharing_give_one_finding_each():
    share = [screen_share()]
    bundle = lesson(session(AMELIA, "09:10", "09:12", modalities=("screenSharing",), media_list=share),
                    session(OLIVER, "09:30", "09:32", modalities=("screenSharing",), media_list=share))
    assert sharers(evaluate(bundle)) == {AMELIA.id, OLIVER.id}


def test_adults_sharing_are_not_pupil_screen_shares():
    share = [screen_share()]
    bundle = lesson(session(TA, "09:10", "09:12", modalities=("screenSharing",), media_list=share),
                    session(GUEST, "09:30", "09:32", modalities=("screenSharing",), media_list=share))
    assert sharers(evaluate(bundle)) == set()


def test_share_is_read_from_a_deprecated_caller_identity():
    bundle = lesson(session(AMELIA, "09:10", "09:20", modalities=("screenSharing",),
                            media_list=[screen_share()], deprecated=True))
    assert sharers(evaluate(bundle)) == {AMELIA.id}


def test_odata_types_in_any_casing_are_understood():
    caller = participant_endpoint(AMELIA, odata_type=CAPITALISED_PARTICIPANT)
    sharing = session(caller, "09:10", "09:20", modalities=("screenSharing",), media_list=[screen_share()],
                      callee_type=CAPITALISED_SERVICE)
    ev = evaluate(lesson(sharing))
    assert sharers(ev) == {AMELIA.id}
    assert "uninvited-attendee" not in rules(ev)  # the conference service is nobody


# -- peer-to-peer: the share belongs to the party its stream flows from ----------------------------------


def test_pupil_callee_sharing_in_a_peer_to_peer_call():
    ev = evaluate(peer_to_peer(TEACHER, AMELIA, media_list=[*av_media(), screen_share("calleeToCaller")],
                               modalities=("audio", "screenSharing")))
    assert sharers(ev) == {AMELIA.id}


def test_teacher_caller_sharing_with_a_pupil_in_a_peer_to_peer_call():
    ev = evaluate(peer_to_peer(TEACHER, AMELIA, media_list=[*av_media(), screen_share("callerToCallee")],
                               modalities=("audio", "screenSharing")))
    assert sharers(ev) == set()


def test_pupil_caller_sharing_in_a_peer_to_peer_call():
    ev = evaluate(peer_to_peer(AMELIA, TEACHER, media_list=[screen_share("callerToCallee")],
                               modalities=("screenSharing",)))
    assert sharers(ev) == {AMELIA.id}


def test_teacher_callee_sharing_with_a_pupil_caller_in_a_peer_to_peer_call():
    ev = evaluate(peer_to_peer(AMELIA, TEACHER, media_list=[screen_share("calleeToCaller")],
                               modalities=("screenSharing",)))
    assert sharers(ev) == set()


def test_peer_to_peer_modality_alone_is_a_possible_share_by_every_pupil_party():
    ev = evaluate(peer_to_peer(TEACHER, AMELIA, media_list=[], modalities=("audio", "screenSharing")))
    assert sharers(ev) == {AMELIA.id}
    assert "possible" in evidence_text(finding(ev, "pupil-screen-shared", AMELIA.id))
    ev = evaluate(peer_to_peer(OLIVER, AMELIA, media_list=[], modalities=("screenSharing",)))
    assert sharers(ev) == {AMELIA.id, OLIVER.id}


def test_main_video_is_not_a_screen_share():
    bundle = lesson(session(AMELIA, "09:10", "09:20", modalities=("video",),
                            media_list=[media("main-video", "callerToCallee")]))
    assert sharers(evaluate(bundle)) == set()


def test_pupil_screen_shared_example_evidence_is_exact():
    """The example on docs/rules/pupil-screen-shared.md gives exactly this evidence, value for value."""
    spec = catalogue()["pupil-screen-shared"]
    found = finding(evaluate(spec.example()), spec.id, "4b5e50c3-b3a6-4aa7-b54d-74965cd16755")
    expected = {"pupil": {"id": "4b5e50c3-b3a6-4aa7-b54d-74965cd16755",
                          "displayName": "Amelia Clarke",
                          "role": "pupil",
                          "userPrincipalName": "amelia.clarke@elmgrove.sch.uk",
                          "tenantId": "7c3e2a91-5b8d-4f0e-9a61-2d4b8c0f3e17"},
                "shares": [{"sessionId": "4b5e50c3-09:00:05",
                            "segmentId": "4b5e50c3-09:00:05",
                            "start": "2026-03-10T09:00:05Z",
                            "end": "2026-03-10T09:45:00Z",
                            "media": "applicationsharing-video",
                            "streamDirection": "callerToCallee",
                            "streamIds": ["1504"]}]}
    assert found.evidence == expected
