function mpc = features
%FEATURES  Reader features (samskap test case): comments everywhere, commas,
%   Inf, `...` continuation, non-consecutive bus numbers, an isolated bus,
%   out-of-service generator and branch, gencost, and kept cell arrays.
mpc.version = '2';   % trailing comment
mpc.baseMVA = 100.0;

%% bus data
%	bus_i	type	Pd	Qd	Gs	Bs	area	Vm	Va	baseKV	zone	Vmax	Vmin
mpc.bus = [
	1001	3	0	0	0	0	1	1.05	0	345	1	1.1	0.9;  % slack
	7	2	10.5	2.5	0	19	2	1.0	-1.5	345	1	1.1	0.9;
	42, 1, 60, 20, 0.5, 0, 2, 0.98, -3, 138, 3, 1.1, 0.9
	9999	4	0	0	0	0	1	1	0	138	3	1.1	0.9;
];
mpc.gen = [
	1001	50	0	Inf	-Inf	1.05	100	1	Inf	0;
	7	20	5	30	-30	1.01	100	1	40	0;
	7	0	0	10	-10	1.01	100	0	40	0;
];
mpc.branch = [
	1001	7	0.01	0.1	0.02	250	250	250	0	0	1	-360	360;
	7	42	0.02	0.2	0.04	0	0	0	0.95	0	1	-360	360;
	1001	42	0.02	0.2	0.04	Inf	Inf	Inf	0	0	0	-360	360;
	42	9999	0.02	0.2	0.04 ...
	  0	0	0	0	0	1	-360	360;
];
mpc.gencost = [
	2	0	0	3	0.01	20	0;
	2	0	0	3	0.02	30	0;
	2	0	0	3	0.02	30	0;
];
mpc.bus_name = {
	'Slack ''A''';
	'Bus 7';
	'Bus 42';
	'Off';
};
mpc.genfuel = {
	'hydro';
	'wind';
	'ng';
};
mpc.gentype = {
	'HY';
	'WT';
	'GT';
};
