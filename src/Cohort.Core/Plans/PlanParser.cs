using System.Globalization;
using Cohort.Apps;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Plans;

/// <summary>Reads and validates YAML plans.</summary>
public static class PlanParser
{
    private static readonly string[] TopKeys =
        ["name", "experiment", "tags", "app", "strategy", "rounds", "selection", "round_timeout", "wait_for_nodes", "train", "seed", "config", "failure", "personalization", "asynchronous", "simulation", "privacy", "dataset", "preflight_timeout", "central_evaluation"];

    private static readonly string[] PrivacyKeys = ["mode", "clipping_norm", "noise_multiplier", "delta"];

    private static readonly string[] FailureKeys = ["min_completion_rate", "retries", "max_examples", "example_tolerance", "offline_grace"];
    private static readonly string[] PersonalizationKeys = ["local"];
    private static readonly string[] CentralEvaluationKeys = ["file"];
    private static readonly string[] AsynchronousKeys = ["buffer_size", "concurrency", "server_learning_rate", "staleness"];
    private static readonly string[] StalenessKeys = ["type", "a", "b"];

    private static readonly string[] AppKeys = ["name", "settings", "dataset"];
    private static readonly string[] StrategyKeys = ["name", "params"];
    private static readonly string[] SelectionKeys = ["min_available", "min_fit", "min_evaluate", "fraction_fit", "fraction_evaluate", "nodes", "accept_first"];

    private static readonly string[] TrainKeys =
        ["local_epochs", "local_steps", "batch_size", "optimizer", "learning_rate", "weight_decay", "momentum", "lr_schedule"];

    private static readonly string[] ScheduleKeys = ["type", "gamma", "step_size", "min_lr"];
    private static readonly string[] SimulationKeys = ["clients", "workers", "partitioner", "data", "histogram"];
    private static readonly string[] PartitionerKeys = ["name", "params"];

    /// <summary>Keys <see cref="Plan.FitConfig"/> fills from the plan itself; <c>config</c> may not override them.</summary>
    private static readonly string[] ReservedConfigKeys =
        ["round", "rounds", "seed", "batch_size", "optimizer", "learning_rate", "weight_decay", "momentum", "local_epochs", "local_steps"];

    /// <summary>
    /// Names Cohort itself used in the task config before they moved to the typed task settings, with
    /// the plan key that sets each; a <c>config</c> key of that name would be mistaken for them by an
    /// app or wrapper that still reads them.
    /// </summary>
    private static readonly (string Key, string SetBy)[] CohortKeys =
    [
        (Privacy.LocalDifferentialPrivacy.ClippingNormKey, "privacy.clipping_norm"),
        (Privacy.LocalDifferentialPrivacy.NoiseMultiplierKey, "privacy.noise_multiplier"),
        (Privacy.LocalDifferentialPrivacy.DeltaKey, "privacy.delta"),
        (PersonalizedClientApp.LocalParametersKey, "personalization.local"),
    ];

    /// <summary>
    /// Parses plan text; <paramref name="source"/> names it in errors. A plan with problems throws one
    /// <see cref="PlanException"/> whose message is the first problem found and whose <see cref="PlanException.Errors"/>
    /// lists every one found: each top-level value and section is read on its own, so a mistake in one does not hide
    /// the others (see <see cref="PlanProblems"/>); the checks that combine sections run once these are all good.
    /// </summary>
    public static Plan Parse(string yaml, string source, StrategyRegistry strategies)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(strategies);

        var problems = new PlanProblems();
        var top = YamlSection.Read(source, "", PlanYamlLoader.LoadRoot(yaml, source, problems), TopKeys, problems: problems);
        // Each read below is in the order the parser always used, so the first problem recorded is the one it used to stop at.
        string name = problems.Read(() => top.RequiredString("name"), "");
        int rounds = problems.Read(() => top.Int("rounds", 1), null) ?? 1;
        var defaults = new Plan { Name = name, App = new AppSpec("", Config.Empty), Strategy = new StrategySpec("", Config.Empty) };
        var appSection = problems.Read(() => top.RequiredSection("app", AppKeys), null);

        var plan = new Plan
        {
            Name = name,
            Experiment = problems.Read(() => top.String("experiment"), null) ?? name,
            Tags = problems.Read(() => top.StringList("tags"), null) ?? [],
            App = appSection is null ? defaults.App : problems.Read(() => ReadApp(appSection), defaults.App),
            Dataset = problems.Read(() => appSection is null ? ReadDatasetName(top) : ReadDataset(top, appSection), null),
            PreflightTimeout = problems.Read(() => top.Duration("preflight_timeout", allowZero: false), null) ?? defaults.PreflightTimeout,
            Strategy = problems.Read(() => ReadStrategy(top.RequiredSection("strategy", StrategyKeys), strategies), defaults.Strategy),
            Rounds = rounds,
            Selection = problems.Read(() => ReadSelection(top.Section("selection", SelectionKeys)), defaults.Selection),
            RoundTimeout = problems.Read(() => top.Duration("round_timeout", allowZero: false), null) ?? defaults.RoundTimeout,
            WaitForNodes = problems.Read(() => top.Duration("wait_for_nodes", allowZero: true), null) ?? defaults.WaitForNodes,
            Train = problems.Read(() => ReadTrain(top.Section("train", TrainKeys), rounds), defaults.Train),
            Seed = problems.Read(() => top.Integer("seed"), null) ?? defaults.Seed,
            RoundConfig = problems.Read(() => ReadRoundConfig(top.Section("config", allowed: null)), Config.Empty),
            Failure = problems.Read(() => ReadFailure(top.Section("failure", FailureKeys)), defaults.Failure),
            Personalization = problems.Read(() => new Personalization { Local = top.Section("personalization", PersonalizationKeys).StringList("local") ?? [] }, defaults.Personalization),
            Asynchronous = problems.Read(() => ReadAsynchronous(top.Section("asynchronous", AsynchronousKeys)), null),
            Privacy = problems.Read(() => ReadPrivacy(top.Section("privacy", PrivacyKeys)), null),
            Simulation = top.Find("simulation") is null ? null : problems.Read(() => ReadSimulation(top.Section("simulation", SimulationKeys)), null),
            CentralEvaluation = top.Find("central_evaluation") is null ? null : problems.Read(() => ReadCentralEvaluation(top.Section("central_evaluation", CentralEvaluationKeys)), null),
            SourceText = yaml,
        };
        // The combinations read values that may have fallen back to defaults above: they would only add noise.
        problems.ThrowIfAny();
        CheckCombinations(top, plan, strategies);
        return plan;
    }

    /// <summary>
    /// The plan's app and settings alone, or null when that part has problems of its own: with it the app's own check of
    /// its settings runs beside the problems elsewhere in a plan that does not parse.
    /// </summary>
    internal static AppSpec? ParseApp(string yaml, string source)
    {
        var problems = new PlanProblems();
        try
        {
            var top = YamlSection.Read(source, "", PlanYamlLoader.LoadRoot(yaml, source, problems), TopKeys, problems: problems);
            var appSection = problems.Read(() => top.RequiredSection("app", AppKeys), null);
            return appSection is null ? null : problems.Read(() => ReadApp(appSection), null);
        }
        catch (PlanException)
        {
            return null;
        }
    }

    private static void CheckCombinations(YamlSection top, Plan plan, StrategyRegistry strategies)
    {
        // Each combination is checked on its own, so every one that does not hold is reported at once.
        var problems = new List<PlanException>();
        void Refuse(YamlDotNet.RepresentationModel.YamlNode at, string problem) => problems.Add(top.Error(at, problem));
        var strategy = strategies.Get(plan.Strategy.Name);
        var selection = top.Section("selection", SelectionKeys);
        // FedProx writes its μ into every fit config, over the plan's own config: a config value would be dropped silently.
        if (strategy.Name == FedProx.Descriptor.Name && top.Section("config", allowed: null).Find(FedProx.ProximalMuKey) is { } mu)
            Refuse(mu, $"config.{FedProx.ProximalMuKey}: strategy 'fedprox' sets it in every fit config from strategy.params.{FedProx.ProximalMuKey}; set it there");
        if (plan.Asynchronous is not null && !strategy.Has(StrategyCapabilities.Asynchronous))
            Refuse(top.Find("asynchronous")!,
                $"asynchronous: strategy '{strategy.Name}' cannot run asynchronously (allowed: {string.Join(", ", strategies.NamesWith(StrategyCapabilities.Asynchronous))}); FedBuff's buffer does the aggregation");
        if (plan.Personalization.Enabled && !strategy.Has(StrategyCapabilities.Personalization))
            Refuse(top.Find("personalization")!, $"personalization: not supported with strategy '{strategy.Name}' (allowed: {string.Join(", ", strategies.NamesWith(StrategyCapabilities.Personalization))})");
        if (plan.Privacy is not null && plan.Asynchronous is not null)
            Refuse(top.Find("privacy")!, "privacy: not supported with asynchronous training yet (FedBuff's buffer aggregates outside the strategy)");
        if (plan.Privacy is not null && plan.Personalization.Enabled)
            Refuse(top.Find("privacy")!, "privacy: not supported with personalization yet (clipping needs the whole update)");
        if (plan.Privacy is not null && !strategy.Has(StrategyCapabilities.DifferentialPrivacy))
            Refuse(top.Find("privacy")!, $"privacy: not supported with strategy '{strategy.Name}' (allowed: {string.Join(", ", strategies.NamesWith(StrategyCapabilities.DifferentialPrivacy))})");
        if (plan.Selection.AcceptFirst is not null && plan.Asynchronous is not null)
            Refuse(selection.Find("accept_first")!, "selection.accept_first: not with asynchronous (FedBuff aggregates every asynchronous.buffer_size arrivals and never waits for a round)");
        if (plan.Personalization.Enabled && plan.Asynchronous is not null)
            Refuse(top.Find("personalization")!, "personalization: not supported with asynchronous training yet");
        // A round gets at least min_fit usable results or fails: below the strategy's need its first aggregation would fail.
        if (plan.Asynchronous is null && strategy.NeedsResults?.Invoke(plan.Strategy.Parameters) is { } needed && plan.Selection.MinFit < needed.Count)
        {
            string given = selection.Find("min_fit") is null ? $"{plan.Selection.MinFit} (the default)" : plan.Selection.MinFit.ToString(CultureInfo.InvariantCulture);
            Refuse(selection.Find("min_fit") ?? top.Find("strategy")!,
                $"selection.min_fit: {given} is below the {needed.Count} fit results strategy '{strategy.Name}' needs a round ({needed.Rule}); " +
                $"set selection.min_fit to {needed.Count} or more, or lower strategy.params");
        }
        if (problems.Count > 0) throw PlanException.Of(problems);
    }

    private static CentralEvaluationSpec ReadCentralEvaluation(YamlSection c) =>
        new(c.String("file") ?? throw c.Missing("file", "a test file the server holds, evaluated with the global model every round"));

    private static Privacy.DifferentialPrivacyOptions? ReadPrivacy(YamlSection p)
    {
        if (!p.Present) return null;
        double clip = p.Number("clipping_norm", NumberBounds.Positive) ?? throw p.Missing("clipping_norm", "the largest L2 norm of a node's update");
        double sigma = p.Number("noise_multiplier", NumberBounds.NonNegative) ?? throw p.Missing("noise_multiplier", "σ: noise standard deviation relative to clipping_norm");
        double delta = p.Number("delta", new NumberBounds(0, true, 1, true)) ?? 1e-5;
        string mode = p.Choice("mode", Privacy.DifferentialPrivacyOptions.Modes) ?? "central";
        return new Privacy.DifferentialPrivacyOptions(clip, sigma, delta, Local: mode == "local");
    }

    /// <summary>Reads and parses a plan file.</summary>
    public static Plan ParseFile(string path, StrategyRegistry strategies)
    {
        if (!File.Exists(path)) throw new PlanException(path, 0, 0, "file not found");
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PlanException(path, 0, 0, $"cannot read the file: {e.Message}");
        }
        return Parse(text, path, strategies);
    }

    private static AppSpec ReadApp(YamlSection app)
    {
        string name = app.RequiredString("name");
        var settings = app.Find("settings") is { } node
            ? AppSettingsFlattener.Flatten(app.Source, app.NameOf("settings"), node)
            : Config.Empty;
        return new AppSpec(name, settings);
    }

    // The data set may be named at the top level or under app (it says which data the app reads); both must agree.
    private static string? ReadDataset(YamlSection top, YamlSection app)
    {
        string? atTop = ReadDatasetName(top);
        string? underApp = ReadDatasetName(app);
        if (atTop is not null && underApp is not null && atTop != underApp)
            throw app.Error(app.Find("dataset")!, $"{app.NameOf("dataset")}: '{underApp}' differs from the top-level dataset '{atTop}'; name it once");
        return atTop ?? underApp;
    }

    private static string? ReadDatasetName(YamlSection section)
    {
        string? name = section.String("dataset");
        if (name is not null && !DatasetName.IsValid(name))
            throw section.Error(section.Find("dataset")!, $"{section.NameOf("dataset")}: '{name}' is not a data set name ({DatasetName.Rule})");
        return name;
    }

    private static StrategySpec ReadStrategy(YamlSection strategy, StrategyRegistry strategies)
    {
        string name = strategy.RequiredString("name");
        var descriptor = strategies.Find(name)
            ?? throw strategy.Error(strategy.Find("name")!, $"{strategy.NameOf("name")}: {strategies.UnknownMessage(name)}");

        var parameters = strategy.Section("params", allowed: null);
        var config = parameters.ToScalarConfig();
        var bad = new List<PlanException>();
        foreach (var (key, entry) in parameters.Entries)
        {
            // The registry's declaration is the one check: unknown keys at the key, bad values at the value.
            if (descriptor.Check(key, config[key]) is { } problem)
                bad.Add(parameters.Error(problem.IsUnknown ? entry.Key : entry.Value, problem.Message));
        }
        // Each parameter is checked on its own, so all of them are reported; the strategy is not created from bad ones.
        if (bad.Count > 0) throw PlanException.Of(bad);
        try
        {
            // Creating the strategy runs its own checks (those spanning several values) now, with a position, rather than when the run starts.
            descriptor.Create(config, StrategyServices.None);
        }
        catch (StrategyParameterException e)
        {
            var entry = parameters.Entries.FirstOrDefault(x => x.Key == e.Key).Value;
            throw entry.Value is not null ? parameters.Error(entry.Value, e.Message) : strategy.Error(strategy.Find("name")!, e.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A plugin's factory can fail any way it likes: say which strategy, from where, and why, in one line.
            throw strategy.Error(strategy.Find("name")!, $"strategy.name: strategy '{name}' ({strategies.OriginOf(name)}) could not be created: {e.Message}");
        }
        return new StrategySpec(name, config);
    }

    private static Selection ReadSelection(YamlSection s)
    {
        var d = new Selection();
        double fractionFit = s.Number("fraction_fit", new NumberBounds(0, true, 1, false)) ?? d.FractionFit;
        double fractionEvaluate = s.Number("fraction_evaluate", NumberBounds.UnitInterval) ?? d.FractionEvaluate;
        int minAvailable = s.Int("min_available", 0) ?? d.MinAvailable;
        // Each lower bound is checked once, here, so that -1 and 0 are refused with the same bound and reason.
        int minFit = s.Int("min_fit", int.MinValue) ?? d.MinFit;
        int? minEvaluate = s.Int("min_evaluate", int.MinValue);

        // fraction_fit is always > 0, so every round trains and needs at least one result.
        if (minFit < 1)
            throw s.Error(s.Find("min_fit")!, $"{s.NameOf("min_fit")}: {minFit} is not allowed (must be >= 1: a round needs at least one fit result)");
        if (fractionEvaluate > 0 && minEvaluate < 1)
            throw s.Error(s.Find("min_evaluate")!,
                $"{s.NameOf("min_evaluate")}: {minEvaluate} is not allowed while {s.NameOf("fraction_evaluate")} is > 0 (must be >= 1, or set fraction_evaluate: 0 to skip evaluation)");
        if (minEvaluate < 0)
            throw s.Error(s.Find("min_evaluate")!, $"{s.NameOf("min_evaluate")}: {minEvaluate} is not allowed (must be >= 0)");

        var nodes = s.StringList("nodes") ?? [];
        // A node named twice is one node: counted twice, a minimum of two could wait for it for ever.
        if (nodes.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw s.Error(s.Find("nodes")!, $"{s.NameOf("nodes")}: '{twice.Key}' is named twice");
        int? acceptFirst = s.Int("accept_first", 1);
        // Only the named nodes are eligible: a minimum above their number could never be met, and the run would wait for ever.
        foreach (var (key, minimum) in new[] { ("min_available", minAvailable), ("min_fit", minFit) })
        {
            if (nodes.Count > 0 && minimum > nodes.Count)
                throw s.Error(s.Find(key) ?? s.Find("nodes")!, $"{s.NameOf(key)}: {minimum} is more than the {nodes.Count} nodes in {s.NameOf("nodes")}; only those nodes take part, so it could never be met");
        }
        // Over-selection: closing below min_fit would fail every round; above the named nodes it could never close early.
        if (acceptFirst < minFit)
            throw s.Error(s.Find("accept_first")!, $"{s.NameOf("accept_first")}: {acceptFirst} is below {s.NameOf("min_fit")} ({minFit}); a round closed that early would fall short of min_fit");
        if (acceptFirst > nodes.Count && nodes.Count > 0)
            throw s.Error(s.Find("accept_first")!, $"{s.NameOf("accept_first")}: {acceptFirst} is more than the {nodes.Count} nodes in {s.NameOf("nodes")}; it must not exceed the nodes a round samples");

        return new Selection(
            MinAvailable: minAvailable,
            MinFit: minFit,
            // No evaluation: an unset minimum should not suggest otherwise.
            MinEvaluate: minEvaluate ?? (fractionEvaluate > 0 ? d.MinEvaluate : 0),
            FractionFit: fractionFit,
            FractionEvaluate: fractionEvaluate)
        {
            Nodes = nodes,
            AcceptFirst = acceptFirst,
        };
    }

    private static TrainSpec ReadTrain(YamlSection t, int rounds)
    {
        var d = new TrainSpec();
        int? epochs = t.Int("local_epochs", 1);
        int? steps = t.Int("local_steps", 1);
        double learningRate = t.Number("learning_rate", NumberBounds.Positive) ?? d.LearningRate;
        return new TrainSpec
        {
            // Steps replace the default epoch count; epochs stay only when the plan gives both.
            LocalEpochs = epochs ?? (steps is null ? d.LocalEpochs : null),
            LocalSteps = steps,
            BatchSize = t.Int("batch_size", 1) ?? d.BatchSize,
            Optimizer = t.Choice("optimizer", TrainSpec.Optimizers) ?? d.Optimizer,
            LearningRate = learningRate,
            WeightDecay = t.Number("weight_decay", NumberBounds.NonNegative) ?? d.WeightDecay,
            Momentum = t.Number("momentum", new NumberBounds(0, false, 1, true)) ?? d.Momentum,
            Schedule = ReadSchedule(t.Section("lr_schedule", ScheduleKeys), learningRate, rounds),
        };
    }

    private static LearningRateSchedule ReadSchedule(YamlSection s, double learningRate, int rounds)
    {
        var d = new LearningRateSchedule();
        if (!s.Present) return d with { TotalRounds = rounds };

        string type = s.Choice("type", LearningRateSchedule.Types) ?? throw s.Missing("type", $"one of {string.Join(", ", LearningRateSchedule.Types)}");
        string[] uses = type switch
        {
            "step" => ["gamma", "step_size"],
            "exponential" => ["gamma"],
            "cosine" => ["min_lr"],
            _ => [],
        };
        foreach (var (key, entry) in s.Entries)
        {
            if (key != "type" && !uses.Contains(key))
                throw s.Error(entry.Key, $"{s.NameOf(key)}: not used by type '{type}' ({type} uses {(uses.Length == 0 ? "no other keys" : string.Join(", ", uses))})");
        }
        foreach (var key in uses)
        {
            if (key != "min_lr" && s.Find(key) is null) throw s.Missing(key, $"type '{type}' needs it");
        }

        double minLr = s.Number("min_lr", NumberBounds.NonNegative) ?? d.MinLearningRate;
        if (minLr > learningRate)
            throw s.Error(s.Find("min_lr")!, $"{s.NameOf("min_lr")}: {minLr} is not allowed (must be <= train.learning_rate, {learningRate})");

        return new LearningRateSchedule
        {
            Type = type,
            Gamma = s.Number("gamma", NumberBounds.Positive) ?? d.Gamma,
            StepSize = s.Int("step_size", 1) ?? d.StepSize,
            MinLearningRate = minLr,
            TotalRounds = rounds,
        };
    }

    private static FailurePolicy ReadFailure(YamlSection f) => new()
    {
        MinCompletionRate = f.Number("min_completion_rate", NumberBounds.UnitInterval) ?? 0,
        Retries = f.Int("retries", 0) ?? 0,
        MaxExamples = f.Integer("max_examples", 1) ?? Apps.ResultLimits.DefaultMaxExamples,
        ExampleTolerance = f.Number("example_tolerance", NumberBounds.NonNegative) ?? Apps.ResultLimits.DefaultExampleTolerance,
        OfflineGrace = f.Duration("offline_grace", allowZero: true),
    };

    private static AsynchronousSpec? ReadAsynchronous(YamlSection a)
    {
        if (!a.Present) return null;
        var d = new AsynchronousSpec();
        var s = a.Section("staleness", StalenessKeys);
        var staleness = new Staleness();
        if (s.Present)
        {
            string type = s.Choice("type", Staleness.Types) ?? throw s.Missing("type", $"one of {string.Join(", ", Staleness.Types)}");
            string[] uses = type switch { "polynomial" => ["a"], "hinge" => ["a", "b"], _ => [] };
            foreach (var (key, entry) in s.Entries)
            {
                if (key != "type" && !uses.Contains(key))
                    throw s.Error(entry.Key, $"{s.NameOf(key)}: not used by type '{type}' ({type} uses {(uses.Length == 0 ? "no other keys" : string.Join(", ", uses))})");
            }
            staleness = new Staleness
            {
                Type = type,
                A = s.Number("a", NumberBounds.NonNegative) ?? staleness.A,
                B = s.Number("b", NumberBounds.NonNegative) ?? staleness.B,
            };
        }
        return new AsynchronousSpec
        {
            BufferSize = a.Int("buffer_size", 1) ?? d.BufferSize,
            Concurrency = a.Int("concurrency", 0) ?? d.Concurrency,
            ServerLearningRate = a.Number("server_learning_rate", NumberBounds.Positive) ?? d.ServerLearningRate,
            Staleness = staleness,
        };
    }

    private static SimulationSpec ReadSimulation(YamlSection s)
    {
        var positions = new Dictionary<string, PlanPosition>(StringComparer.Ordinal);
        foreach (var (key, entry) in s.Entries) positions[key] = At(entry.Value);
        int clients = s.Int("clients", 1) ?? throw s.Missing("clients", "the number of virtual clients");
        int workers = s.Int("workers", 1) ?? new SimulationSpec { Clients = 1 }.Workers;
        bool histogram = false;
        if (s.Value("histogram") is { } h)
        {
            if (h.Kind != ScalarKind.Bool) throw s.Error(s.Find("histogram")!, $"{s.NameOf("histogram")}: {YamlScalars.Show(h)} is not allowed (allowed: true, false)");
            histogram = h.AsBool();
        }

        var partitioner = new PartitionerSpec("iid", Config.Empty, new Dictionary<string, PlanPosition>());
        if (s.Find("partitioner") is { } pNode)
        {
            // "partitioner: iid" is short for "partitioner: {name: iid}".
            if (pNode is YamlDotNet.RepresentationModel.YamlScalarNode)
            {
                partitioner = partitioner with { Name = s.RequiredString("partitioner") };
                positions["partitioner.name"] = At(pNode);
            }
            else
            {
                var p = s.Section("partitioner", PartitionerKeys);
                string name = p.RequiredString("name");
                positions["partitioner.name"] = At(p.Find("name")!);
                var paramPositions = new Dictionary<string, PlanPosition>(StringComparer.Ordinal);
                var parameters = Config.Empty;
                if (p.Find("params") is { } paramsNode)
                {
                    parameters = AppSettingsFlattener.Flatten(s.Source, p.NameOf("params"), paramsNode);
                    CollectPositions(paramsNode, "", paramPositions);
                    foreach (var (k, v) in paramPositions) positions[$"partitioner.params.{k}"] = v;
                }
                partitioner = new PartitionerSpec(name, parameters, paramPositions);
            }
        }

        var data = Config.Empty;
        if (s.Find("data") is { } dataNode)
        {
            if (dataNode is YamlDotNet.RepresentationModel.YamlMappingNode)
            {
                data = AppSettingsFlattener.Flatten(s.Source, s.NameOf("data"), dataNode);
                var dataPositions = new Dictionary<string, PlanPosition>(StringComparer.Ordinal);
                CollectPositions(dataNode, "", dataPositions);
                foreach (var (k, v) in dataPositions) positions[$"data.{k}"] = v;
            }
            else
            {
                data = new Config(new Dictionary<string, Scalar>(StringComparer.Ordinal) { ["path"] = s.RequiredString("data") });
                positions["data.path"] = At(dataNode);
            }
        }

        return new SimulationSpec
        {
            Clients = clients,
            Workers = workers,
            Partitioner = partitioner,
            Data = data,
            Histogram = histogram,
            Positions = positions,
        };
    }

    private static PlanPosition At(YamlDotNet.RepresentationModel.YamlNode node) => new(node.Start.Line, node.Start.Column);

    private static void CollectPositions(YamlDotNet.RepresentationModel.YamlNode node, string prefix, Dictionary<string, PlanPosition> positions)
    {
        if (node is not YamlDotNet.RepresentationModel.YamlMappingNode map) return;
        foreach (var (k, v) in map.Children)
        {
            if (k is not YamlDotNet.RepresentationModel.YamlScalarNode key) continue;
            string name = prefix + key.Value;
            if (v is YamlDotNet.RepresentationModel.YamlMappingNode) CollectPositions(v, name + ".", positions);
            else positions[name] = At(v);
        }
    }

    private static Config ReadRoundConfig(YamlSection config)
    {
        foreach (var (key, entry) in config.Entries)
        {
            if (ReservedConfigKeys.Contains(key, StringComparer.Ordinal))
                throw config.Error(entry.Key,
                    $"{config.NameOf(key)}: '{key}' is set by the server from the plan (reserved: {string.Join(", ", ReservedConfigKeys)}); set it under train, rounds or seed");
            if (CohortKeys.FirstOrDefault(k => k.Key == key) is { Key: not null } cohort)
                throw config.Error(entry.Key, $"{config.NameOf(key)}: '{key}' is reserved for Cohort (set by {cohort.SetBy}); choose another name");
        }
        return config.ToScalarConfig();
    }
}
