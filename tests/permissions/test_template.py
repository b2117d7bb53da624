"""Permission object templates: checked at compile, every rendered value an id."""

from __future__ import annotations

import pytest

from gateway.permissions.template import TemplateError, ValueRefused, compile_template, render


def test_compile_and_render() -> None:
    parts = compile_template("{org}/reports/{report}", ("org", "report"))
    assert parts == ("", "org", "/reports/", "report", "")
    assert render(parts, {"report": "q3"}, "org-a") == "org-a/reports/q3"
    assert render(compile_template("static", ()), {}, None) == "static"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{nope}", "{nope} is not a parameter of the route (known: {id}, {org})"),
        ("a{b", "braces only as {name}"),
        ("a}", "braces only as {name}"),
        ("{1x}", "braces only as {name}"),
        ("", "1-256 characters"),
        ("x" * 257, "1-256 characters"),
        ("tab\there", "printable ASCII"),
        ("é", "printable ASCII"),
    ],
)
def test_bad_templates(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template(text, ("id",))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "value",
    ["", "a/b", "..", ".hidden", "a#b", "a@b", "a:b", 'a"b', "a'b", "a b", "a\x00b", "a\nb", "é", "x" * 129, "a%2Fb"],
)
def test_hostile_values_are_refused(value: str) -> None:
    parts = compile_template("docs/{id}", ("id",))
    with pytest.raises(ValueRefused) as caught:
        render(parts, {"id": value}, "org-a")
    assert caught.value.name == "id"


def test_an_organization_is_needed_when_the_template_names_it() -> None:
    with pytest.raises(ValueRefused) as caught:
        render(compile_template("{org}/x", ()), {}, None)
    assert caught.value.name == "org"


@pytest.mark.parametrize("value", ["a", "A-b_c.d~e", "0" * 128, "a..b"])
def test_ids_pass(value: str) -> None:
    assert render(compile_template("d/{id}", ("id",)), {"id": value}, None) == f"d/{value}"
