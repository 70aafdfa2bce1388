import sys
from pathlib import Path

# tests import their oracle loaders (oracle_at, oracle_data) as top-level modules
sys.path.insert(0, str(Path(__file__).parent))


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def dump():
    """The shared Linux oracle's ELF vmcore (decompressed once into tests/.cache), or a skip."""
    import oracle_data

    path = oracle_data.linux_vmcore_elf()
    if path is None:
        pytest.skip("Linux oracle dump not present")
    return str(path)
