import pytest

from web.optional import SERVICES, service


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_ui_action_resolves_to_its_service(name):
    assert callable(service(name))
