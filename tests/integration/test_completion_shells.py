"""The committed completion scripts load in their shells and complete commands, options and values."""
import os
import shutil
import subprocess
import unittest

from harness import MailproxyTest, SOURCE

BASH_FILE = os.path.join(SOURCE, "completions", "mailproxy.bash")


def bash_complete(words, cwd=None):
    """Runs the bash completion function for the command line `words` (the last one is being typed)."""
    script = f"""
source {BASH_FILE!r}
COMP_WORDS=({' '.join(repr(w) if w else "''" for w in words)})
COMP_CWORD={len(words) - 1}
_mailproxy
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True, cwd=cwd,
                       timeout=30)
    if p.returncode != 0:
        raise AssertionError(p.stderr)
    return [l for l in p.stdout.splitlines() if l]


class BashCompletion(MailproxyTest):
    def test_subcommands(self):
        self.assertEqual(bash_complete(["mailproxy", ""]),
                         ["entry", "level", "zone", "enable", "disable", "serve", "scan", "autodns",
                          "completion"])
        self.assertEqual(bash_complete(["mailproxy", "zone", "lint", "--fail-on", "w"]), ["warning"])
        self.assertEqual(bash_complete(["mailproxy", "zone", "rewrite", "--serial", "u"]), ["unixtime"])
        self.assertEqual(bash_complete(["mailproxy", "enable", "--protection", "H"]), ["HIGH"])
        self.assertEqual(bash_complete(["mailproxy", "scan", "--scanner-failure", ""]), ["tempfail", "pass"])
        self.assertEqual(bash_complete(["mailproxy", "--backend", ""]), ["local", "autodns"])
        self.assertEqual(bash_complete(["mailproxy", "autodns", ""]), ["ping"])
        self.assertEqual(bash_complete(["mailproxy", "en"]), ["entry", "enable"])
        self.assertEqual(sorted(bash_complete(["mailproxy", "entry", ""])),
                         ["create", "delete", "export", "import", "info", "list", "update"])
        self.assertEqual(bash_complete(["mailproxy", "--store", "/tmp", "entry", "up"]), ["update"])
        self.assertEqual(bash_complete(["mailproxy", "-q", "level", ""]), ["show"])

    def test_options(self):
        self.assertEqual(bash_complete(["mailproxy", "entry", "create", "--pro"]), ["--protection"])
        self.assertEqual(sorted(bash_complete(["mailproxy", "entry", "update", "x.example", "--add-"])),
                         ["--add-blacklist", "--add-exclude", "--add-whitelist"])
        self.assertNotIn("--add-whitelist", bash_complete(["mailproxy", "entry", "create", "--"]))
        self.assertIn("--store", bash_complete(["mailproxy", "entry", "info", "--st"]))
        self.assertIn("--version", bash_complete(["mailproxy", "--"]))

    def test_values(self):
        self.assertEqual(bash_complete(["mailproxy", "entry", "create", "--protection", ""]),
                         ["HIGH", "MEDIUM", "LOW", "OFF", "CUSTOM"])
        self.assertEqual(bash_complete(["mailproxy", "entry", "update", "x.example", "--virus", "Q"]), ["QUARANTINE"])
        self.assertEqual(bash_complete(["mailproxy", "entry", "create", "--greylisting", ""]), ["on", "off"])
        self.assertEqual(bash_complete(["mailproxy", "level", "show", ""]), ["HIGH", "MEDIUM", "LOW", "OFF"])
        self.assertEqual(bash_complete(["mailproxy", "completion", "z"]), ["zsh"])
        # a value option's argument is not taken for a subcommand
        self.assertEqual(bash_complete(["mailproxy", "entry", "create", "--target", "list", "--greylisting", "o"]),
                         ["on", "off"])
        os.makedirs(os.path.join(self.tmp, "somedir"))
        open(os.path.join(self.tmp, "somefile"), "w").close()
        self.assertEqual(bash_complete(["mailproxy", "--store", "some"], cwd=self.tmp), ["somedir"])
        self.assertEqual(sorted(bash_complete(["mailproxy", "entry", "import", "some"], cwd=self.tmp)),
                         ["somedir", "somefile"])

    def test_generated_by_the_binary(self):
        for shell, name in (("bash", "mailproxy.bash"), ("zsh", "_mailproxy"), ("fish", "mailproxy.fish")):
            r = self.run_mp("completion", shell, expect=0)
            with open(os.path.join(SOURCE, "completions", name)) as f:
                self.assertEqual(r.out, f.read(), f"completions/{name} is stale")
        r = self.run_mp("completion", "tcsh", expect=2)
        self.assertIn("tcsh not in {bash,zsh,fish}", r.err)


class OtherShells(MailproxyTest):
    def test_zsh_script_parses_and_loads(self):
        self.assertIsNotNone(shutil.which("zsh"), "zsh is missing: run scripts/install-deps.sh")
        path = os.path.join(SOURCE, "completions", "_mailproxy")
        p = subprocess.run(["zsh", "-n", path], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        # load it under compinit and ask the data functions what bash would answer
        script = f"""
autoload -U compinit && compinit -u -d {self.tmp}/zcompdump
source {path}
_mailproxy_subcommands 'entry'
_mailproxy_option_value 'entry create' --protection
_mailproxy_described 'commands level'
"""
        p = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, text=True, env=dict(self.env, HOME=self.tmp))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.splitlines(), ["create update delete info list export import",
                                                 "choices HIGH MEDIUM LOW OFF CUSTOM",
                                                 "show:Print the preset table (one level or all)"])

    def test_fish_script_parses_and_completes(self):
        self.assertIsNotNone(shutil.which("fish"), "fish is missing: run scripts/install-deps.sh")
        path = os.path.join(SOURCE, "completions", "mailproxy.fish")
        p = subprocess.run(["fish", "--no-execute", path], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        env = dict(self.env, HOME=self.tmp, XDG_CONFIG_HOME=self.tmp, XDG_DATA_HOME=self.tmp)
        for line, expected in (("mailproxy en", "entry"), ("mailproxy entry create --protection ", "MEDIUM"),
                               ("mailproxy entry upd", "update"), ("mailproxy level show ", "OFF")):
            p = subprocess.run(["fish", "--no-config", "-c", f"source {path}; complete --do-complete={line!r}"],
                               capture_output=True, text=True, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            words = [l.split("\t")[0] for l in p.stdout.splitlines()]
            self.assertIn(expected, words, f"{line!r} -> {words}")


if __name__ == "__main__":
    unittest.main()
