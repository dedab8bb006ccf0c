"""sri-guard: a JavaScript supply-chain integrity checker.

The pipeline, one module per stage, data flowing one way:

    config ─→ targets ─→ fetch ─→ discover (pages) ─→ verdict / compare ─→ findings ─→ report
    (config)           (fetch,    (discover)          (sri, verdict,        (model,    (_format/,
                        decode,                        baseline)             rules)     notify)
                        profiles)

* `sri_guard.sri`      parse, verify and format `integrity` metadata (pure)
* `sri_guard.fetch`    the one bounded, hashing HTTP(S) fetcher every command uses
* `sri_guard.model`    Resource, Finding, Report values; `sri_guard.rules` the rule ids
* `sri_guard.commands` one module per command, each exposing `run(...) -> Report`
* `sri_guard._format`  one module per output format behind one interface
* `sri_guard._cli`     option parsing only
"""

__version__ = "0.1.0"
