import json

from apps.core.formatting import json_object_with_raw


def test_it_copies_raw_json_after_the_head_keys():
    text = json_object_with_raw({"id": 1, "name": 'Well "7"'}, summary=None, result='[{"oil": 1.5}]')
    assert json.loads(text) == {"id": 1, "name": 'Well "7"', "summary": None, "result": [{"oil": 1.5}]}
    assert list(json.loads(text)) == ["id", "name", "summary", "result"]


def test_it_writes_a_head_alone_or_raw_fields_alone():
    assert json.loads(json_object_with_raw({"id": 1})) == {"id": 1}
    assert json.loads(json_object_with_raw({}, points="[[1.0, 2.0]]")) == {"points": [[1.0, 2.0]]}
    assert json_object_with_raw({}) == "{}"
