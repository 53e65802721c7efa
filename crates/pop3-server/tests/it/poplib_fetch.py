"""Downloads every message with Python's poplib and writes each to OUT/<n>.eml.

usage: poplib_fetch.py HOST PORT plain|stls|ssl user|apop USER SECRET CAFILE OUT
Prints one JSON line: the UIDL listing and TOP n 0 of message 1.
"""
import json
import poplib
import ssl
import sys

host, port, mode, auth, user, secret, cafile, out = sys.argv[1:9]
context = ssl.create_default_context(cafile=cafile)
if mode == "ssl":
    pop = poplib.POP3_SSL(host, int(port), context=context, timeout=20)
else:
    pop = poplib.POP3(host, int(port), timeout=20)
    if mode == "stls":
        pop.stls(context=context)
if auth == "apop":
    pop.apop(user, secret)
else:
    pop.user(user)
    pop.pass_(secret)
count, _size = pop.stat()
for n in range(1, count + 1):
    _resp, lines, _octets = pop.retr(n)
    with open(f"{out}/{n}.eml", "wb") as f:
        f.write(b"".join(line + b"\r\n" for line in lines))
uidl = [entry.decode() for entry in pop.uidl()[1]]
top = [line.decode() for line in pop.top(1, 0)[1]] if count else []
pop.quit()
print(json.dumps({"count": count, "uidl": uidl, "top": top}))
