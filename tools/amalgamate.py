#!/usr/bin/env python3
"""Build the single-file distribution: dist/qlow.h (the public header) and dist/qlow.c (every
src/*/*.c in a fixed order, each internal header inlined at its first inclusion), SQLite style.

File-local names (static functions and variables, typedefs, struct, union and enum tags defined in a .c
file) get a per-file prefix in that file's own text (not after `.`/`->`, so struct members keep their
names), and the macros a .c file defines are #undef'd after it, so the files keep the separate namespaces they had as
translation units. Internal qlow__ functions stay extern with hidden visibility.
usage: tools/amalgamate.py [ROOT] [OUTDIR]   (defaults: the repository, ROOT/dist)"""
import os
import re
import sys

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
DEFINE_RE = re.compile(r"^\s*#\s*define\s+(\w+)")
# File-scope declarations that are private to a translation unit: `static ...` or a macro whose
# expansion starts with static (e.g. `#define INL static inline ...`), found per source tree.
STATIC_DECL = r"^(?:%s)\s+(?:[\w\s\*]|\([^)]*\))*?\b(\w+)\s*(?:\(|\[|=|;)"
STATIC_MACRO_RE = re.compile(r"^\s*#\s*define\s+(\w+)\s+static\b", re.M)
TYPEDEF_END_RE = re.compile(r"^\}\s*(\w+)\s*;")
TYPEDEF_ONE_RE = re.compile(r"^typedef\s+[^;{]*?\b(\w+)\s*;")
TAG_RE = re.compile(r"^(?:typedef\s+)?(?:struct|union|enum)\s+(\w+)\s*\{")


def source_files(root):
    src = os.path.join(root, "src")
    out = []
    for sub in sorted(os.listdir(src)):
        d = os.path.join(src, sub)
        if os.path.isdir(d):
            out += [os.path.join("src", sub, f) for f in sorted(os.listdir(d)) if f.endswith(".c")]
    return out


def resolve(root, including, name):
    for base in (os.path.dirname(including), "src"):
        rel = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(os.path.join(root, rel)):
            return rel
    return None


LEXEME_RE = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def blank_lexemes(text):
    """Comments, string and character literals replaced by blanks (newlines kept), so that braces and
    declarations are only seen in code."""
    return LEXEME_RE.sub(lambda m: "".join(c if c == "\n" else " " for c in m.group(0)), text)


FN_MACRO_RE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)\(([^)]*)\)((?:[^\n]*\\\n)*[^\n]*)", re.M)


def defining_macros(text):
    """Function-like macros that define a static function named by one of their parameters, e.g.
    `#define ROWS_FN(name, KIND) static TGT void name(...)`: {macro: index of that parameter}."""
    out = {}
    for m in FN_MACRO_RE.finditer(text):
        params = [p.strip() for p in m.group(2).split(",")]
        body = m.group(3).replace("\\\n", " ")
        for i, p in enumerate(params):
            if p and re.search(r"\bstatic\b[^;{]*\b%s\s*\(" % re.escape(p), body):
                out[m.group(1)] = i
                break
    return out


def rename_identifiers(text, renames):
    """Rename whole identifiers of a .c file's own text, outside comments and literals, except where
    they name a struct member (after `.` or `->`), so that shared structs keep their fields."""
    word = re.compile(r"(\.|->)?(\s*)\b(%s)\b" % "|".join(map(re.escape, sorted(renames))))

    def code(chunk):
        return word.sub(lambda m: m.group(0) if m.group(1) else m.group(2) + renames[m.group(3)], chunk)
    out, pos = [], 0
    for m in LEXEME_RE.finditer(text):
        out.append(code(text[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(code(text[pos:]))
    return "".join(out)


def local_names(text, static_re):
    """Names a .c file defines at file scope that would clash if another file defined them too."""
    names = set()
    depth = 0
    makers = defining_macros(text)
    maker_re = re.compile(r"^(%s)\s*\(([^)]*)\)" % "|".join(map(re.escape, makers))) if makers else None
    for line in blank_lexemes(text).splitlines():
        if depth == 0:
            for rx in (static_re, TYPEDEF_ONE_RE, TAG_RE):
                m = rx.match(line)
                if m:
                    names.add(m.group(1))
            m = maker_re.match(line) if maker_re else None
            if m:
                args = [a.strip() for a in m.group(2).split(",")]
                idx = makers[m.group(1)]
                if idx < len(args) and re.match(r"^\w+$", args[idx]):
                    names.add(args[idx])
        if depth == 1 and line.startswith("}"):
            m = TYPEDEF_END_RE.match(line)
            if m:
                names.add(m.group(1))
        depth += line.count("{") - line.count("}")
        depth = max(depth, 0)
    return names


def file_macros(text):
    return sorted(set(m.group(1) for m in map(DEFINE_RE.match, text.splitlines()) if m))


class Amalgamator:
    def __init__(self, root):
        self.root = root
        self.seen = set()
        self.out = []
        self.header_renames = {}

    def read(self, rel):
        with open(os.path.join(self.root, rel)) as f:
            return f.read()

    def emit_file(self, rel, renames=None):
        self.out.append("/* ======== %s ======== */\n" % rel)
        text = self.read(rel)
        renames = dict(renames or {}, **self.header_renames.get(rel, {}))
        if renames:
            text = rename_identifiers(text, renames)
        for line in text.splitlines(keepends=True):
            m = INCLUDE_RE.match(line)
            if not m:
                self.out.append(line)
                continue
            name = m.group(1)
            if name == "qlow.h":
                continue  # included once at the top
            target = resolve(self.root, rel, name)
            if target is None:
                raise SystemExit("amalgamate: %s includes unknown \"%s\"" % (rel, name))
            if target.endswith(".c"):
                # a source compiled again under other macros (x86_avx2_vnni.c): inlined every time,
                # with the including file's renames, which cover the included file's names too
                self.emit_file(target, renames)
                self.out.append("/* ======== (back in %s) ======== */\n" % rel)
            elif target not in self.seen:
                self.seen.add(target)
                self.emit_file(target)
                self.out.append("/* ======== (back in %s) ======== */\n" % rel)
        if not self.out[-1].endswith("\n"):
            self.out.append("\n")

    def header_clashes(self, files, texts, static_re):
        """Internal headers that define a name another header also defines (each translation unit saw
        only one of them): {header: {name: new}} for the later header, also applied to every .c file
        that includes it."""
        headers = sorted(os.path.relpath(os.path.join(d, n), self.root)
                         for d, _, ns in os.walk(os.path.join(self.root, "src")) for n in ns if n.endswith(".h"))
        first, out = {}, {}
        for idx, h in enumerate(headers):
            for n in local_names(self.read(h), static_re):
                if n in first:
                    out.setdefault(h, {})[n] = "qlow__amalgh%d_%s" % (idx, n)
                else:
                    first[n] = h
        for h, ren in list(out.items()):
            base = os.path.basename(h)
            for f in files:
                if re.search(r'#\s*include\s+"[^"]*%s"' % re.escape(base), texts[f]):
                    out.setdefault(f, {}).update(ren)
        return out

    def build(self):
        files = source_files(self.root)
        texts = dict((f, self.read(f)) for f in files)
        # A .c file that includes another .c file defines that file's names and macros as well.
        for f in files:
            for name in re.findall(r'^\s*#\s*include\s+"([^"]+\.c)"', texts[f], re.M):
                target = resolve(self.root, f, name)
                if target:
                    texts[f] += "\n" + self.read(target)
        macros = set()
        for f in files:
            macros.update(STATIC_MACRO_RE.findall(texts[f]))
        static_re = re.compile(STATIC_DECL % "|".join(["static"] + sorted(macros)))
        self.header_renames = self.header_clashes(files, texts, static_re)
        owners = {}
        for f in files:
            for n in local_names(texts[f], static_re):
                owners.setdefault(n, []).append(f)
        clashes = dict((n, fs) for n, fs in owners.items() if len(fs) > 1)
        self.out.append(
            "/* qlow.c - libqlow amalgamation: the whole library in one translation unit.\n"
            " * Generated by tools/amalgamate.py from %d source files; do not edit. Build it with any C11\n"
            " * compiler together with qlow.h: cc -std=c11 -O2 -c qlow.c (add -fopenmp for threads,\n"
            " * -DQLOW_NO_MALLOC for builds without malloc). */\n" % len(files))
        self.out.append("#define QLOW_AMALGAMATION 1\n#include \"qlow.h\"\n")
        shared = set()
        for d, _, names in os.walk(os.path.join(self.root, "src")):
            for n in names:
                if n.endswith((".h", ".def")):
                    with open(os.path.join(d, n)) as fh:
                        shared.update(re.findall(r"[A-Za-z_]\w*", fh.read()))
        with open(os.path.join(self.root, "include", "qlow.h")) as fh:
            shared.update(re.findall(r"[A-Za-z_]\w*", fh.read()))
        for idx, f in enumerate(files):
            # Every file-local name gets a per-file prefix, so it can clash neither with another file's
            # nor with what a system header included by an earlier file declares (e.g. a typedef
            # `pipe` after <unistd.h>). Names the file also uses as struct members are renamed only
            # when two files define them, since a member declaration cannot be told from a use here;
            # names a header mentions (e.g. the tag of a public opaque type) keep theirs.
            code = blank_lexemes(texts[f])
            members = set(re.findall(r"(?:\.|->)\s*([A-Za-z_]\w*)", code))
            mine = [n for n, fs in owners.items()
                    if f in fs and (n in clashes or (n not in members and n not in shared))]
            renames = dict((n, "qlow__amalg%d_%s" % (idx, n)) for n in mine)
            self.emit_file(f, renames)
            for n in file_macros(texts[f]):
                self.out.append("#undef %s\n" % n)
        return "".join(self.out), sorted(clashes)


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    outdir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "dist")
    os.makedirs(outdir, exist_ok=True)
    text, clashes = Amalgamator(root).build()
    with open(os.path.join(root, "include", "qlow.h")) as f:
        header = f.read()
    for name, content in (("qlow.c", text), ("qlow.h", header)):
        tmp = os.path.join(outdir, name + ".tmp")
        with open(tmp, "w") as f:
            f.write(content)
        os.replace(tmp, os.path.join(outdir, name))
    print("amalgamate: %s/qlow.c (%d lines), %s/qlow.h; renamed per file: %s"
          % (outdir, text.count("\n"), outdir, " ".join(clashes) or "none"))


if __name__ == "__main__":
    main()
