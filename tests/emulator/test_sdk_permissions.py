"""The official ory-client PermissionApi and RelationshipApi against the emulator."""

from __future__ import annotations

import ory_client
import pytest
from ory_client.exceptions import BadRequestException, ForbiddenException, NotFoundException, UnauthorizedException

from tests.support.emulator import RunningEmulator

from .conftest import ALICE_ID, CUSTOMER_KEY


@pytest.fixture()
def sdk(emu: RunningEmulator) -> ory_client.ApiClient:
    return ory_client.ApiClient(ory_client.Configuration(host=emu.project_url("customer"), access_token=CUSTOMER_KEY))


def test_permission_api_checks(sdk: ory_client.ApiClient) -> None:
    api = ory_client.PermissionApi(sdk)
    org, a, member = "Organization", "org-a", "member"
    assert api.check_permission(namespace=org, object=a, relation=member, subject_id=ALICE_ID).allowed is True
    assert api.check_permission(namespace=org, object=a, relation=member, subject_id="bob").allowed is False
    assert api.check_permission_or_error(namespace=org, object=a, relation=member, subject_id=ALICE_ID).allowed
    with pytest.raises(ForbiddenException) as denied:
        api.check_permission_or_error(namespace=org, object=a, relation=member, subject_id="bob")
    assert denied.value.status == 403 and denied.value.data is not None and denied.value.data.allowed is False
    body = ory_client.PostCheckPermissionBody(namespace="Document", object="q3", relation="view", subject_id="carol")
    assert api.post_check_permission(post_check_permission_body=body).allowed is True
    assert api.post_check_permission(max_depth=2, post_check_permission_body=body).allowed is False
    shallow = ory_client.PostCheckPermissionOrErrorBody(
        namespace="Document", object="q3", relation="view", subject_id="bob"
    )
    assert api.post_check_permission_or_error(post_check_permission_or_error_body=shallow).allowed is True


def test_permission_api_batch_and_expand(sdk: ory_client.ApiClient) -> None:
    api = ory_client.PermissionApi(sdk)
    tuples = [
        ory_client.Relationship(namespace="Document", object="q3", relation="view", subject_id=who)
        for who in ("bob", "dave", "carol")
    ]
    result = api.batch_check_permission(batch_check_permission_body=ory_client.BatchCheckPermissionBody(tuples=tuples))
    assert [r.allowed for r in result.results] == [True, False, True]
    tree = api.expand_permissions("Document", "q3", "view")
    assert tree.type == "union" and tree.children is not None and tree.children[0].type == "union"
    with pytest.raises(NotFoundException):
        api.expand_permissions("Document", "nothing", "view")


def test_relationship_api_crud(sdk: ory_client.ApiClient) -> None:
    api = ory_client.RelationshipApi(sdk)
    created = api.create_relationship(
        create_relationship_body=ory_client.CreateRelationshipBody(
            namespace="Document", object="sdk-doc", relation="edit", subject_id="erin"
        )
    )
    assert (created.object, created.subject_id) == ("sdk-doc", "erin")
    listed = api.get_relationships(namespace="Document", object="sdk-doc")
    assert [r.subject_id for r in listed.relation_tuples or []] == ["erin"] and listed.next_page_token == ""
    patch = ory_client.RelationshipPatch(
        action="insert",
        relation_tuple=ory_client.Relationship(
            namespace="Document",
            object="sdk-doc",
            relation="edit",
            subject_set=ory_client.SubjectSet(namespace="Group", object="finance", relation="member"),
        ),
    )
    api.patch_relationships(relationship_patch=[patch])
    assert len(api.get_relationships(namespace="Document", object="sdk-doc").relation_tuples or []) == 2
    api.delete_relationships(namespace="Document", object="sdk-doc")
    assert api.get_relationships(namespace="Document", object="sdk-doc").relation_tuples == []
    names = [n.name for n in api.list_relationship_namespaces().namespaces or []]
    assert names == ["Organization", "Group", "Document"]
    with pytest.raises(NotFoundException):
        api.get_relationships(namespace="Nope")
    with pytest.raises(BadRequestException):
        api.create_relationship(
            create_relationship_body=ory_client.CreateRelationshipBody(namespace="Document", object="x", relation="y")
        )


def test_permission_api_needs_the_key(emu: RunningEmulator) -> None:
    config = ory_client.Configuration(host=emu.project_url("customer"), access_token="ory_pat_wrong")
    with pytest.raises(UnauthorizedException):
        ory_client.PermissionApi(ory_client.ApiClient(config)).check_permission(
            namespace="Organization", object="org-a", relation="member", subject_id=ALICE_ID
        )
