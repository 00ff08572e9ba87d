"""Command-line options of the integration suite (they must be registered by the rootdir conftest)."""
import os

TRANSPORTS = ("swtpm", "mssim")


def pytest_addoption(parser):
    g = parser.getgroup("vtpm")
    g.addoption("--tpm", default=os.environ.get("VTPM_TEST_TPMS", "swtpm,vtpm"),
                help="comma-separated implementations under test: swtpm, vtpm (default both)")
    g.addoption("--transport", default=os.environ.get("VTPM_TEST_TRANSPORTS", ",".join(TRANSPORTS)),
                help="comma-separated transports: swtpm (swtpm command line + swtpm TCTI), mssim")
    g.addoption("--vtpm-bin", default=os.environ.get("VTPM_BIN", ""),
                help="vtpm executable (default .build/release/vtpm, else .build/debug/vtpm)")
    g.addoption("--swtpm-bin", default=os.environ.get("SWTPM_BIN", "/usr/bin/swtpm"))
    g.addoption("--seed", type=int, default=int(os.environ.get("VTPM_DIFF_SEED", "20250601")),
                help="seed of the differential and hostile-input generators")
    g.addoption("--diff-cases", type=int, default=int(os.environ.get("VTPM_DIFF_CASES", "1500")),
                help="number of generated commands in the differential test")
    g.addoption("--hostile-cases", type=int, default=int(os.environ.get("VTPM_HOSTILE_CASES", "3000")),
                help="number of malformed commands per connection in the hostile-input test")
    g.addoption("--t2t-suite", default=os.environ.get("T2T_SUITE_DIR", ""),
                help="directory holding tpm2-tools 5.4's test/integration (see docs/testing.md)")
    g.addoption("--t2t-tpm", default=os.environ.get("VTPM_T2T_TPMS", "vtpm"),
                help="implementations tpm2-tools' own scripts run against (default vtpm: the scripts are the "
                     "judge of vtpm; add swtpm to check the harness itself against the reference)")
