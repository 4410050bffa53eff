// Integration tests start servers and node processes; on a two-core machine they run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
