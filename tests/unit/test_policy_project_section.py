"""relay.yaml may describe its project beside the policy: checked, then set aside."""

from __future__ import annotations

import pytest

from relayml.errors import InvalidInput
from relayml.models.policy import parse_policy

POLICY = {"environments": {"staging": {"checks": [{"metric": "roc_auc", "min": 0.7}]}}}
PROJECT = {
    "name": "churn",
    "business_question": "Who will leave?",
    "kpis": [{"name": "kept", "unit": "customers", "definition": {"type": "metric"}}],
}


def test_a_project_section_is_accepted_and_is_not_part_of_the_policy() -> None:
    with_project = parse_policy({**POLICY, "project": PROJECT})
    assert with_project == parse_policy(POLICY)
    assert "project" not in with_project.model_dump()


@pytest.mark.parametrize(
    ("project", "says"),
    [
        ({"business_question": "?"}, "policy entry project.name: Field required"),
        ({**PROJECT, "owner": "ana"}, "policy entry project.owner: Extra inputs"),
        ({**PROJECT, "kpis": [{"name": "kept", "unit": "x", "traget": 3}]}, "kpis.0.traget"),
        ({**PROJECT, "kpis": [{"name": "kept", "direction": "up"}]}, "kpis.0.direction"),
        ("churn", "project section holds name, description, business_question and kpis"),
    ],
)
def test_a_faulty_project_section_is_refused_naming_the_entry(project: object, says: str) -> None:
    with pytest.raises(InvalidInput, match="policy entry project") as caught:
        parse_policy({**POLICY, "project": project})
    assert says in caught.value.message
