from tests.zones.factories import zone  # noqa: F401 - a fixture
