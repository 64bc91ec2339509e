function mpc = islands
%ISLANDS  Island handling (samskap test case).
%   Buses 10-20-30: a radial feeder from the slack at 10 (energised).
%   Branch 30-40 is out of service, so 40-50 form an island without a
%   reference bus: de-energised.  Bus 60 is isolated (type 4) although a
%   branch in service reaches it: that branch is dropped.  Buses 70-80 are a
%   second island with its own slack (type 3 at 70): solved on its own.
mpc.version = '2';
mpc.baseMVA = 100;
mpc.bus = [
	10	3	0	0	0	0	1	1.02	0	33	1	1.1	0.9;
	20	1	20	5	0	0	1	1	0	33	1	1.1	0.9;
	30	1	15	4	0	0	1	1	0	33	1	1.1	0.9;
	40	1	10	2	0	0	1	1	0	33	1	1.1	0.9;
	50	1	5	1	0	0	1	1	0	33	1	1.1	0.9;
	60	4	3	1	0	0	1	1	0	33	1	1.1	0.9;
	70	3	0	0	0	0	2	1.01	0	33	1	1.1	0.9;
	80	1	8	3	0	0	2	1	0	33	1	1.1	0.9;
];
mpc.gen = [
	10	40	10	100	-100	1.02	100	1	100	0;
	70	8	3	100	-100	1.01	100	1	100	0;
];
mpc.branch = [
	10	20	0.01	0.05	0.001	0	0	0	0	0	1	-360	360;
	20	30	0.01	0.05	0.001	0	0	0	0	0	1	-360	360;
	30	40	0.01	0.05	0.001	0	0	0	0	0	0	-360	360;
	40	50	0.01	0.05	0.001	0	0	0	0	0	1	-360	360;
	30	60	0.01	0.05	0.001	0	0	0	0	0	1	-360	360;
	70	80	0.02	0.06	0	0	0	0	0	0	1	-360	360;
];
