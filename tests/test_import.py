import subprocess
import sys

import lrfinder


def test_import_loads_no_framework_and_no_matplotlib() -> None:
    code = (
        "import sys, lrfinder, lrfinder.cli\n"
        "heavy = {'torch', 'keras', 'jax', 'tensorflow', 'optax', 'flax', 'matplotlib',"
        " 'sklearn', 'tqdm', 'lightning', 'pytorch_lightning', 'transformers'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api_is_declared() -> None:
    for name in lrfinder.__all__:
        assert hasattr(lrfinder, name), name


def test_errors_are_value_errors() -> None:
    assert issubclass(lrfinder.LRFinderError, ValueError)
    assert issubclass(lrfinder.NoSuggestionError, lrfinder.LRFinderError)
    assert issubclass(lrfinder.ResultFileError, lrfinder.LRFinderError)
