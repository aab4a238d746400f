#!/usr/bin/env python3
"""latent(1): a man page (roff, man(7) macros) made from the command's own description.

Reads `latent --experimental-dump-help`, the JSON that swift-argument-parser makes from the
command definitions (the same input its generate-manual plugin formats), so the page always
says what `--help` says. Why not the plugin: it rebuilds every product in a configuration of its
own (a second full release build) only to read this JSON. Deterministic: no dates from the clock.

    python3 tools/manpage.py .build/release/latent > latent.1
"""
import json
import subprocess
import sys


def esc(text):
    """Text safe in roff: backslashes doubled, a leading dot or quote neutralised per line."""
    out = []
    for line in (text or "").replace("\\", "\\e").split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        out.append(line.replace("-", "\\-"))
    return "\n".join(out)


def flag_names(arg):
    names = []
    for n in arg.get("names", []):
        names.append(("-" if n["kind"] == "short" else "--") + n["name"])
    return names


def synopsis(arg):
    if arg["kind"] == "positional":
        s = "<" + arg["valueName"] + ">"
    else:
        pref = arg.get("preferredName") or arg["names"][0]
        s = ("-" if pref["kind"] == "short" else "--") + pref["name"]
        if arg["kind"] == "option":
            s += " <" + arg["valueName"] + ">"
    if arg.get("isRepeating"):
        s += " ..."
    return "[" + s + "]" if arg.get("isOptional") else s


def options(args, out):
    shown = [a for a in args if a.get("shouldDisplay", True)]
    if not shown:
        return
    out.append(".SS OPTIONS")
    for a in shown:
        if a["kind"] == "positional":
            head = "<" + a["valueName"] + ">"
        else:
            head = ", ".join(flag_names(a))
            if a["kind"] == "option":
                head += " <" + a["valueName"] + ">"
        out.append(".TP")
        out.append("\\fB" + esc(head) + "\\fR")
        text = a.get("abstract", "")
        if a.get("allValues"):
            text += " (values: " + ", ".join(a["allValues"]) + ")"
        if a.get("defaultValue") not in (None, ""):
            text += " (default: " + a["defaultValue"] + ")"
        out.append(esc(text.strip()))
        if a.get("discussion"):
            out.append(esc(a["discussion"] if isinstance(a["discussion"], str) else ""))


def command(cmd, path, out):
    name = " ".join(path)
    out.append('.SH "' + esc(name.upper()) + '"' if len(path) > 1 else ".SH DESCRIPTION")
    if cmd.get("abstract"):
        out.append(esc(cmd["abstract"]))
    args = cmd.get("arguments", [])
    out.append(".PP")
    out.append("\\fB" + esc(name) + "\\fR " + esc(" ".join(synopsis(a) for a in args if a.get("shouldDisplay", True))))
    if cmd.get("discussion"):
        out.append(".PP")
        out.append(".nf")
        out.append(esc(cmd["discussion"]))
        out.append(".fi")
    options(args, out)
    for sub in cmd.get("subcommands", []):
        if sub["commandName"] != "help" and sub.get("shouldDisplay", True):
            command(sub, path + [sub["commandName"]], out)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: manpage.py PATH/TO/latent")
    binary = sys.argv[1]
    info = json.loads(subprocess.run([binary, "--experimental-dump-help"], check=True, capture_output=True, text=True).stdout)
    version = subprocess.run([binary, "--version"], check=True, capture_output=True, text=True).stdout.strip()
    top = info["command"]
    out = ['.TH LATENT 1 "" "latent ' + esc(version) + '" "latent manual"',
           ".SH NAME",
           "latent \\- " + esc(top.get("abstract", "")),
           ".SH SYNOPSIS",
           "\\fBlatent\\fR <subcommand> [options]",
           ".PP",
           "Subcommands: " + ", ".join("\\fB" + s["commandName"] + "\\fR" for s in top.get("subcommands", [])
                                      if s["commandName"] != "help") + "."]
    command(top, ["latent"], out)
    out += [".SH FILES",
            ".TP",
            "\\fIPREFIX/share/latent/GeneSets\\fR",
            "The shipped gene-set collections (go_bp, go_mf, go_cc, positional, progeny_top100, ...) and gene ID maps.",
            ".SH ENVIRONMENT",
            ".TP",
            "\\fBLATENT_GENESETS\\fR",
            "A GeneSets directory to use instead of the installed one.",
            ".SH EXIT STATUS",
            "0 success; 2 bad input or usage (one line on stderr: latent: FILE:PLACE: what is wrong (what to do)); 1 internal failure."]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
