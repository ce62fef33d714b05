"""Debian's chromium (scripts/ensure-browser.sh installs it), headless, driven by Playwright
(its Python package, which starts that chromium: no browser of its own is downloaded), on
the stack's pages: a test waits in real time for what a page says it has done (a
selector), then reads its DOM or takes a screenshot. Flags keep it off the network (it
talks only to the stack on this machine); the stack's self-signed certificate is accepted."""
import contextlib

from playwright.sync_api import sync_playwright

CHROMIUM = '/usr/bin/chromium'
FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--hide-scrollbars']


@contextlib.contextmanager
def page(size=(1000, 800)):
    """A new page of a headless chromium, `size` pixels wide and high."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser.new_page(viewport={'width': size[0], 'height': size[1]}, ignore_https_errors=True)
        finally:
            browser.close()


def load(one_page, url, ready, timeout_s=120):
    """Open `url` and wait until the selector `ready` matches (what the page's scripts set
    when they are done); the page's DOM then."""
    one_page.goto(url)
    one_page.wait_for_selector(ready, state='attached', timeout=timeout_s * 1000)
    return one_page.content()
