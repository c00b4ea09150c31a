#!/usr/bin/python3
"""smtp_server.py --host ADDR [tests/smtp/server.py options...]

tests/smtp/server.py, listening on ADDR instead of 127.0.0.1 (it has no
option for that): the event loop's create_server is given ADDR, then
server.py runs unchanged. Run with /usr/bin/python3, like server.py.
"""
import asyncio
import os
import runpy
import sys

args = sys.argv[1:]
if len(args) < 2 or args[0] != "--host":
    sys.exit("usage: smtp_server.py --host ADDR [server.py options...]")
host, rest = args[1], args[2:]
server_py = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "smtp", "server.py")
create_server = asyncio.BaseEventLoop.create_server


async def create_server_on_host(self, factory, _host=None, *a, **k):
    return await create_server(self, factory, host, *a, **k)


asyncio.BaseEventLoop.create_server = create_server_on_host
sys.argv = [server_py] + rest
runpy.run_path(server_py, run_name="__main__")
