function mpc = feeder3
%FEEDER3  Buses 10-20-30 of islands.m alone (samskap test case): the
%   energised island of islands.m must give exactly this solution.
mpc.version = '2';
mpc.baseMVA = 100;
mpc.bus = [
	10	3	0	0	0	0	1	1.02	0	33	1	1.1	0.9;
	20	1	20	5	0	0	1	1	0	33	1	1.1	0.9;
	30	1	15	4	0	0	1	1	0	33	1	1.1	0.9;
];
mpc.gen = [
	10	40	10	100	-100	1.02	100	1	100	0;
];
mpc.branch = [
	10	20	0.01	0.05	0.001	0	0	0	0	0	1	-360	360;
	20	30	0.01	0.05	0.001	0	0	0	0	0	1	-360	360;
];
