using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Cohort.Learning.Data;

namespace Cohort.Learning.Tests.Data;

public sealed class FederatedTabularStatisticsTests
{
    private static readonly TabularPreprocessorOptions Options = new()
    {
        Label = "y",
        CategoricalAuto = true,
        TrainFraction = 0.7,
        Missing = MissingValues.Mean,
    };

    private static TabularTable Read(string csv, string source, TabularPreprocessorOptions? options = null)
    {
        var read = TabularPreprocessor.ReadOptionsFor(new TabularReadOptions(), options ?? Options);
        return TabularReader.Read(new StringReader(csv), source, read);
    }

    // A site's file: amounts on a scale of its own, a text column, a few missing amounts.
    private static string Site(int seed, int rows, double scale, string[] merchants)
    {
        var random = new Random(seed);
        var sb = new StringBuilder("amount,hour,merchant,y\n");
        for (int i = 0; i < rows; i++)
        {
            string amount = i % 17 == 3 ? "" : (scale * (1 + 3 * random.NextDouble())).ToString("R", CultureInfo.InvariantCulture);
            sb.Append(CultureInfo.InvariantCulture, $"{amount},{random.Next(24)},{merchants[random.Next(merchants.Length)]},{(random.NextDouble() < 0.3 ? 1 : 0)}\n");
        }
        return sb.ToString();
    }

    private static (string Name, TabularTable Table)[] Sites() =>
    [
        ("a", Read(Site(1, 120, 1, ["fuel", "grocery", "travel"]), "a.csv")),
        ("b", Read(Site(2, 80, 25, ["fuel", "grocery"]), "b.csv")),
        ("c", Read(Site(3, 60, 3, ["grocery", "online"]), "c.csv")),
    ];

    private static FederatedTabularStatistics Aggregate((string Name, TabularTable Table)[] sites, TabularPreprocessorOptions options, long minCount = 1) =>
        FederatedTabularStatistics.Aggregate([.. sites.Select(s => (s.Name, TabularStatistics.Compute(s.Table, options)))], minCount);

    [Fact]
    public void Global_mean_and_std_equal_those_of_all_sites_training_rows_pooled()
    {
        var sites = Sites();
        var stats = Aggregate(sites, Options);

        // Pooled by hand: every site's training rows (the rows its preprocessing trains on), two passes.
        var amounts = new List<double>();
        var hours = new List<double>();
        int rows = 0;
        foreach (var (_, table) in sites)
        {
            var (train, _) = TabularPreprocessor.SplitRows(table, Options);
            rows += train.Length;
            foreach (int r in train)
            {
                double a = table["amount"].Numbers![r];
                if (!double.IsNaN(a)) amounts.Add(a);
                hours.Add(table["hour"].Numbers![r]);
            }
        }
        double mean = amounts.Average();
        // Missing amounts are imputed with the mean: they add rows, not deviation.
        double std = Math.Sqrt(amounts.Sum(a => (a - mean) * (a - mean)) / (rows - 1));
        double hourMean = hours.Average();
        double hourStd = Math.Sqrt(hours.Sum(h => (h - hourMean) * (h - hourMean)) / (rows - 1));

        Assert.Equal(rows, stats.Rows);
        Assert.Equal(mean, stats.Mean("amount"), 1e-12 * Math.Abs(mean));
        Assert.Equal(std, stats.Std("amount"), 1e-9 * std);
        Assert.Equal(hourMean, stats.Mean("hour"), 1e-12 * hourMean);
        Assert.Equal(hourStd, stats.Std("hour"), 1e-9 * hourStd);
        Assert.True(amounts.Count < rows, "the test data has missing amounts");
    }

    [Fact]
    public void Global_standardisation_gives_each_site_the_features_pooled_training_rows_would_get()
    {
        var sites = Sites();
        var stats = Aggregate(sites, Options);
        var global = Options with { GlobalStandardize = true, Statistics = stats };

        // Pooled: all sites' training rows in one table, standardised with their own statistics, with the
        // same categories declared (the federated vocabulary) so both encode alike.
        var trainTables = sites.Select(s => s.Table.Subset(TabularPreprocessor.SplitRows(s.Table, Options).Train)).ToArray();
        var pooledOptions = Options with
        {
            CategoricalAuto = false,
            Categorical = new Dictionary<string, IReadOnlyList<string>> { ["merchant"] = stats.Vocabularies["merchant"] },
            TrainFraction = 0.999,
            Stratify = false,
        };
        var pooled = TabularPreprocessor.ProcessHeldOut(Concat(trainTables), pooledOptions);

        int at = 0;
        foreach (var (_, table) in sites)
        {
            var site = TabularPreprocessor.Process(table, global).Train;
            Assert.Equal(pooled.FeatureNames, site.FeatureNames);
            for (int i = 0; i < site.Count; i++, at++)
            {
                var expected = pooled.Row(at);
                var actual = site.Row(i);
                for (int j = 0; j < expected.Length; j++) Assert.Equal(expected[j], actual[j], 1e-5f);
            }
        }
        Assert.Equal(pooled.Count, at);
    }

    [Fact]
    public void A_value_rarer_than_the_minimum_over_all_sites_is_folded_into_other_and_never_named()
    {
        // "rare" occurs twice at one site; "split" 4 times at each of two sites (below 5 at each, not in all); "fuel" everywhere.
        var a = Read("amount,merchant,y\n" + string.Concat(Enumerable.Range(0, 20).Select(i => $"{i},{(i < 2 ? "rare" : i < 6 ? "split" : "fuel")},{i % 2}\n")), "a.csv");
        var b = Read("amount,merchant,y\n" + string.Concat(Enumerable.Range(0, 20).Select(i => $"{i},{(i < 4 ? "split" : "fuel")},{i % 2}\n")), "b.csv");
        var options = Options with { TrainFraction = 0.99, Stratify = false };
        var stats = FederatedTabularStatistics.Aggregate(
        [
            ("a", TabularStatistics.Compute(a, options)),
            ("b", TabularStatistics.Compute(b, options)),
        ], minCategoryCount: 5);

        Assert.Equal(["fuel", "split", FederatedTabularStatistics.OtherCategory], stats.Vocabularies["merchant"]);
        Assert.DoesNotContain("rare", stats.ToJson());
        var site = TabularPreprocessor.Process(a, options with { Statistics = stats, Standardize = false }).Train;
        Assert.Equal(["amount", "merchant=fuel", "merchant=split", "merchant=(other)"], site.FeatureNames);
        Assert.Equal(stats.CategoryCounts["merchant"][2], Enumerable.Range(0, site.Count).Sum(i => (long)site.Row(i)[3]));
    }

    [Fact]
    public void Sites_whose_tables_disagree_fail_with_one_message_naming_each_and_its_columns()
    {
        var good = Read("amount,hour,merchant,y\n1,2,x,0\n2,3,y,1\n3,4,x,0\n4,5,y,1\n", "good.csv");
        var alsoGood = Read("amount,hour,merchant,y\n5,2,x,0\n6,3,y,1\n7,4,x,0\n8,5,y,1\n", "also.csv");
        var noHour = Read("amount,merchant,y\n1,x,0\n2,y,1\n3,x,0\n4,y,1\n", "nohour.csv");
        var textAmount = Read("amount,hour,merchant,y\nlow,2,x,0\nhigh,3,y,1\nlow,4,x,0\nhigh,5,y,1\n", "text.csv");

        var e = Assert.Throws<InvalidDataException>(() => FederatedTabularStatistics.Aggregate(
        [
            ("bank_a", TabularStatistics.Compute(good, Options)),
            ("bank_b", TabularStatistics.Compute(alsoGood, Options)),
            ("bank_c", TabularStatistics.Compute(noHour, Options)),
            ("bank_d", TabularStatistics.Compute(textAmount, Options)),
        ], 1));

        Assert.Equal(
            "the nodes' tables do not agree (compared with the columns of bank_a, bank_b): bank_c: no column 'hour'; bank_d: 'amount' is text, not numeric",
            e.Message);
    }

    [Fact]
    public void Statistics_survive_their_json_round_trip_exactly()
    {
        var stats = Aggregate(Sites(), Options, minCount: 5);

        var back = FederatedTabularStatistics.FromJson(stats.ToJson(), "test");

        Assert.Equal(stats.ToJson(), back.ToJson());
        Assert.Equal(stats.Std("amount"), back.Std("amount"));
    }

    [Fact]
    public void Statistics_json_is_what_the_reflection_serializer_wrote_so_nodes_and_servers_of_either_build_agree()
    {
        var site = TabularStatistics.Compute(Sites()[0].Table, Options);
        var stats = Aggregate(Sites(), Options, minCount: 5);
        // The options the records were serialised with before their JSON was source-generated.
        var reflection = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
            RespectNullableAnnotations = true,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        };

        Assert.Equal(JsonSerializer.Serialize(site, reflection), site.ToJson());
        Assert.Equal(JsonSerializer.Serialize(stats, reflection), stats.ToJson());
        Assert.Equal(stats.ToJson(), JsonSerializer.Serialize(JsonSerializer.Deserialize<FederatedTabularStatistics>(stats.ToJson(), reflection), reflection));
    }

    private static TabularTable Concat(TabularTable[] tables)
    {
        var first = tables[0];
        var columns = first.Columns.Select(c => c.IsNumeric
            ? TabularColumn.Numeric(c.Name, tables.SelectMany(t => t[c.Name].Numbers!).ToArray())
            : TabularColumn.Text(c.Name, tables.SelectMany(t => t[c.Name].Texts!).ToArray())).ToList();
        return new TabularTable("pooled", columns, tables.SelectMany(t => t.Lines).ToArray());
    }
}
