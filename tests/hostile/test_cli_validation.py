"""Bad command-line values are usage errors that say what is wrong, never tracebacks."""

from __future__ import annotations

import pytest

from hybridsearch.cli import main


@pytest.mark.parametrize("args,says", [
    (["search", "q", "--k", "0"], "--k: must be 1 or more"),
    (["search", "q", "--k", "-5"], "--k: must be 1 or more"),
    (["search", "q", "--k", "ten"], "--k: expected a whole number"),
    (["search", "q", "--lang", ",,,"], "--lang: no language codes"),
    (["search", "q", "--lang", "en,12"], "--lang: not a language code: 12"),
    (["search", "q", "--device", "tpu"], "--device: unknown device 'tpu'"),
    (["encode", "q", "--threads", "-3"], "--threads: must be 1 or more"),
    (["index", ".", "--threads", "0"], "--threads: must be 1 or more"),
])
def test_bad_option_values_are_clear_usage_errors(args, says, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and says in err and "Traceback" not in err
