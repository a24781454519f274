"""The man pages are lint-clean mdoc and render."""
import os
import re
import shutil
import subprocess

from harness import MailproxyTest, SOURCE

PAGES = ["man/mailproxy.1", "man/mailproxy.conf.5", "man/mailproxy-serve.8"]


class ManPages(MailproxyTest):
    def test_mandoc_lint_is_clean(self):
        self.assertIsNotNone(shutil.which("mandoc"), "mandoc is missing: run scripts/install-deps.sh")
        for page in PAGES:
            p = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", os.path.join(SOURCE, page)],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, f"{page}:\n{p.stdout}{p.stderr}")
            self.assertEqual(p.stdout, "", p.stdout)

    def test_pages_render_with_their_sections(self):
        p = subprocess.run(["mandoc", "-T", "utf8", os.path.join(SOURCE, "man/mailproxy.1")], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        text = re.sub(".\b", "", p.stdout)  # drop overstrike (bold, underline)
        for heading in ("SYNOPSIS", "GLOBAL OPTIONS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES"):
            self.assertIn(heading, text)
