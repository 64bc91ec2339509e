function mpc = dc3
%DC3  Hand-computable DC power flow (samskap test case).
%   Three buses in a triangle, every branch x = 0.1 pu (b = 10), r = 0.
%   Loads 100 MW at bus 2 and 50 MW at bus 3, slack at bus 1, base 100 MVA.
%   Reduced B = [20 -10; -10 20], P = [-1; -0.5]  =>
%   Va2 = -25/300 rad = -4.774648 deg, Va3 = -20/300 rad = -3.819719 deg,
%   flows 1-2 83.3333 MW, 1-3 66.6667 MW, 2-3 -16.6667 MW, slack Pg 150 MW.
mpc.version = '2';
mpc.baseMVA = 100;
mpc.bus = [
	1	3	0	0	0	0	1	1	0	230	1	1.1	0.9;
	2	1	100	20	0	0	1	1	0	230	1	1.1	0.9;
	3	1	50	10	0	0	1	1	0	230	1	1.1	0.9;
];
mpc.gen = [
	1	0	0	300	-300	1	100	1	250	0;
];
mpc.branch = [
	1	2	0	0.1	0	100	100	100	0	0	1	-360	360;
	1	3	0	0.1	0	100	100	100	0	0	1	-360	360;
	2	3	0	0.1	0	100	100	100	0	0	1	-360	360;
];
