#!/usr/bin/env python3
"""examples/qemu-lm3s/map_owners.py MAP - static RAM (.data + .bss) and flash
(.text, .rodata, the vector table and .data's initial values) of a firmware
image by owner, from GNU ld's link map: lwIP (its RAM also by module: memp
is the pools, mem the heap), mbedTLS, securenet + the application (main.o),
the board's files and the C library. build.sh prints it after each link."""
import re
import sys

SECTIONS = r'\.(?:bss|data|text|rodata|vectors)\S*|COMMON'


def owner(obj):
    if 'lwip/lib.a' in obj:
        return 'lwIP'
    if 'mbedtls/lib.a' in obj:
        return 'mbedTLS'
    if obj.endswith('main.o'):
        return 'securenet + app (main.o)'
    if '/app' in obj:
        return 'board (' + obj.rsplit('/', 1)[-1] + ')'
    return 'C library'


def main(path):
    ram, flash, pending, placed = {}, {}, None, False
    for line in open(path):
        if not placed:  # the discarded sections (--gc-sections) come first
            placed = line.startswith('Linker script and memory map')
            continue
        m = re.match(r'^ (%s)\s*$' % SECTIONS, line)
        if m:  # a long section name: its address and size follow on the next line
            pending = m.group(1)
            continue
        m = re.match(r'^ (%s)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)' % SECTIONS, line)
        sec = (m.group(1) or pending) if m else None
        pending = None
        if not sec:
            continue
        addr, size, obj = int(m.group(2), 16), int(m.group(3), 16), m.group(4)
        if size == 0:
            continue
        who = owner(obj)
        in_ram = addr >= 0x20000000
        if in_ram and sec.startswith(('.bss', '.data', 'COMMON')):
            ram[who] = ram.get(who, 0) + size
            if who == 'lwIP':
                mod = '  lwIP ' + re.sub(r'.*\((.*)\.o\)', r'\1', obj)
                ram[mod] = ram.get(mod, 0) + size
        if (not in_ram and sec.startswith(('.text', '.rodata', '.vectors'))) or (in_ram and sec.startswith('.data')):
            flash[who] = flash.get(who, 0) + size
    for title, table in (('static RAM (.data + .bss)', ram), ('flash (.text + .rodata + .data)', flash)):
        print('%s by owner: %d B' % (title, sum(v for k, v in table.items() if not k.startswith(' '))))
        for who, n in sorted(table.items(), key=lambda kv: -kv[1]):
            if n >= 32:
                print('  %-30s %7d B' % (who, n))


if __name__ == '__main__':
    main(sys.argv[1])
