function mpc = dc_shift
%DC_SHIFT  Two parallel paths, one with a phase shifter (samskap test case).
%   Bus 1 slack, bus 2 load 100 MW.  Branch 1: x = 0.1 (b = 10), no shift.
%   Branch 2: x = 0.1, tap 1, shift 5 deg => Pfinj = -10 * 5*pi/180 pu.
%   B22 = 20, P2 = -1 - Pbusinj(2) where Pbusinj(2) = -Pfinj = +0.872665:
%   Va2 = (-1 - 0.872665) / 20 = -0.0936332 rad = -5.36479 deg.
%   Flow 1: 10*(0 - Va2) = 0.936332 pu = 93.6332 MW;
%   flow 2: 10*(0 - Va2) + Pfinj = 0.936332 - 0.872665 = 0.063668 pu = 6.3668 MW.
mpc.version = '2';
mpc.baseMVA = 100;
mpc.bus = [
	1	3	0	0	0	0	1	1	0	230	1	1.1	0.9;
	2	1	100	0	0	0	1	1	0	230	1	1.1	0.9;
];
mpc.gen = [
	1	0	0	300	-300	1	100	1	250	0;
];
mpc.branch = [
	1	2	0	0.1	0	0	0	0	0	0	1	-360	360;
	1	2	0	0.1	0	0	0	0	1	5	1	-360	360;
];
