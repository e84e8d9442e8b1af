from datetime import UTC, datetime

import pytest
from stage_fakes import FakeStageContext

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def ctx() -> FakeStageContext:
    return FakeStageContext(NOW)
