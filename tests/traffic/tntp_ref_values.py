#!/usr/bin/python3
"""TSTT and Beckmann of the best-known flows in NAME_flow.tntp, recomputed
independently of the kernel (exact rational sum for TSTT, math.fsum elsewhere).

usage: tntp_ref_values.py [DATA_DIR] NAME...   (DATA_DIR defaults to
$SAMSKAP_SHARED_DATA/traffic).  Standard library only.  Used to check the
figures in the data README and docs/kernels/traffic.md ("TSTT against the
reference"); not run by ctest."""
import math
import os
import sys
from fractions import Fraction


def read_net(path):
    meta, links = {}, []
    for line in open(path):
        s = line.strip()
        if s.startswith('<'):
            tag, _, val = s[1:].partition('>')
            meta[tag.strip()] = val.split('~')[0].strip()
            continue
        if not s or s.startswith('~'):
            continue
        f = s.replace(';', ' ').split()
        links.append((int(f[0]), int(f[1]), *map(float, f[2:7]), float(f[8])))
    return meta, links


def main(argv):
    args = argv[1:]
    d = os.path.join(os.environ.get('SAMSKAP_SHARED_DATA', ''), 'traffic')
    if args and os.path.isdir(args[0]):
        d = args.pop(0)
    for name in args:
        meta, links = read_net(os.path.join(d, name, name + '_net.tntp'))
        rows = [l.split() for l in open(os.path.join(d, name, name + '_flow.tntp')).read().split('\n')[1:]]
        rows = [r for r in rows if len(r) >= 4]
        assert len(rows) == len(links), 'flow file and net file differ in length'
        tf = float(meta.get('TOLL FACTOR') or 0)
        df = float(meta.get('DISTANCE FACTOR') or 0)
        tstt, tcol, beck, exact = [], [], [], Fraction(0)
        for (i, j, cap, length, t0, b, p, toll), r in zip(links, rows):
            assert (i, j) == (int(r[0]), int(r[1]))
            x, ccol = float(r[2]), float(r[3])
            fixed = tf * toll + df * length
            if b > 0 and p > 0:
                q = (x / cap) ** p
                c = t0 * (1 + b * q) + fixed
                integ = t0 * x * (1 + b * q / (p + 1)) + fixed * x
            else:
                c = t0 * (1 + b) + fixed
                integ = c * x
            tstt.append(x * c)
            tcol.append(x * ccol)
            beck.append(integ)
            exact += Fraction(x) * Fraction(c)
        print(f'{name}: TSTT {float(exact):.6f} (naive sum {sum(tstt):.6f}, with the cost column '
              f'{math.fsum(tcol):.6f})  Beckmann {math.fsum(beck):.6f}  factors {tf:g}/{df:g}')


if __name__ == '__main__':
    main(sys.argv)
