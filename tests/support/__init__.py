"""What the tests share: the suite's Redis plugin, real workers and stacks, simulators in
subprocesses, probe tasks, request bodies and factories."""
