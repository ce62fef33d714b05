"""Debian's chromium, headless, on the stack's pages (scripts/ensure-browser.sh installs it):
the page's DOM once its scripts ran, or a screenshot, with the flags that keep it off the
network (it talks only to the stack on this machine) and trust the stack's self-signed
certificate. Pages are given virtual time to run their scripts and load what they ask."""
import os
import subprocess
import tempfile

FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--ignore-certificate-errors', '--hide-scrollbars']


def chromium(url, *more, budget_ms=20000):
    """Run chromium on `url` with more flags; its standard output."""
    with tempfile.TemporaryDirectory(prefix='kargo-chromium-') as profile:
        done = subprocess.run(['chromium'] + FLAGS + ['--user-data-dir=' + profile,
                                                      '--virtual-time-budget=%d' % budget_ms] + list(more) + [url],
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def dom(url, budget_ms=20000):
    """The page's DOM as HTML, after its scripts ran."""
    return chromium(url, '--dump-dom', budget_ms=budget_ms)


def screenshot(url, path, size=(800, 600), budget_ms=20000):
    """A PNG of the page at `size` into `path`; returns the path."""
    chromium(url, '--screenshot=%s' % path, '--window-size=%d,%d' % size, budget_ms=budget_ms)
    assert os.path.getsize(str(path)) > 0
    return path
