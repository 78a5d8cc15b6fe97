#!/usr/bin/env python3
"""Prints the length in lines of every function body in the C++ files given: free functions, member
functions defined in classes or out of line, functions inside namespaces, and lambdas (each measured
on its own; an enclosing function's length includes its lambdas).

A body is a "{" whose preceding code ends a parameter list: ")" possibly followed by const, override,
final, noexcept, mutable, a trailing return type or a constructor's member initialisers. Braces of
if/for/while/switch/catch, of initialisers and of classes are not bodies. Comments, strings and
character literals are blanked first, so braces in them do not count.

Output: one line per function, "LINES FILE:LINE", for scripts/check-size.sh.
"""
import re
import sys

CONTROL = {"if", "for", "while", "switch", "catch", "do", "else", "try", "return", "sizeof",
           "alignof", "decltype", "static_assert", "noexcept", "requires"}


def blank(src: str) -> str:
    """Replaces comments and literals with spaces, keeping newlines (and so line numbers)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == "R" and src.startswith('R"', i) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            m = re.match(r'R"([^(\s]*)\(', src[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = src.find(")" + m.group(1) + '"', i)
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c in "\"'":
            # A digit separator (1'000) is not a character literal.
            if c == "'" and i > 0 and src[i - 1].isalnum() and i + 1 < n and src[i + 1].isalnum():
                out.append(" ")
                i += 1
                continue
            j = i + 1
            while j < n and src[j] != c and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching_paren(code: str, close: int) -> int:
    """Index of the "(" that matches the ")" at `close`, or -1."""
    depth = 0
    for k in range(close, -1, -1):
        if code[k] == ")":
            depth += 1
        elif code[k] == "(":
            depth -= 1
            if depth == 0:
                return k
    return -1


def word_before(code: str, k: int) -> str:
    j = k
    while j > 0 and code[j - 1].isspace():
        j -= 1
    e = j
    while j > 0 and (code[j - 1].isalnum() or code[j - 1] == "_"):
        j -= 1
    return code[j:e]


SUFFIX = re.compile(
    r"\)\s*(?:(?:const|override|final|noexcept(?:\s*\([^()]*\))?|mutable|volatile|&&|&)\s*)*"
    r"(?:->\s*[\w:<>,\s*&]+?)?\s*$")


def is_body(code: str, brace: int) -> bool:
    start = max(0, brace - 400)
    head = code[start:brace].rstrip()
    if not head:
        return False
    if head.endswith("]"):  # a lambda without parameters: [..] {
        return True
    m = SUFFIX.search(head)
    if m:
        close = start + m.start()
    else:  # a constructor's member initialisers: ") : a_(x), b_{y} {"
        init = re.search(r"\)\s*:\s*[\w:]+\s*[({][^;]*[)}]\s*$", head)
        if not init:
            return False
        close = start + init.start()
    open_ = matching_paren(code, close)
    if open_ < 0:
        return False
    name = word_before(code, open_)
    if name in CONTROL:
        return False
    before = code[:open_].rstrip()
    return bool(name) or before.endswith("]") or before.endswith(">")


def sizes(path: str):
    src = open(path, encoding="utf-8", errors="replace").read()
    code = blank(src)
    stack = []  # (is_body, line)
    line = 1
    for i, c in enumerate(code):
        if c == "\n":
            line += 1
        elif c == "{":
            stack.append((is_body(code, i), line))
        elif c == "}" and stack:
            body, start = stack.pop()
            if body:
                yield line - start, start


def main() -> int:
    for path in sys.argv[1:]:
        for length, start in sizes(path):
            print(f"{length} {path}:{start}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
