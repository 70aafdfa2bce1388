import sys
from pathlib import Path

# tests import their oracle loaders (oracle_at, oracle_data) as top-level modules
sys.path.insert(0, str(Path(__file__).parent))
