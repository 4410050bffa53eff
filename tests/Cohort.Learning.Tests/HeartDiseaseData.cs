using Cohort.Learning.Data;

namespace Cohort.Learning.Tests;

/// <summary>The four FLamby hospitals under examples/heart-disease/data, with the plan's preprocessing.</summary>
internal static class HeartDiseaseData
{
    public static readonly string[] Hospitals = ["cleveland", "hungarian", "switzerland", "va"];

    public static readonly string[] Columns = ["age", "sex", "cp", "trestbps", "chol", "fbs", "restecg", "thalach", "exang", "oldpeak", "slope", "ca", "thal", "num"];

    public static string DataDirectory => Path.Combine(RepositoryRoot(), "examples", "heart-disease", "data");

    public static string PathOf(string hospital) => Path.Combine(DataDirectory, $"processed.{hospital}.data");

    public static TabularReadOptions Read => new() { Format = TabularFormat.Uci, Columns = Columns };

    public static TabularPreprocessorOptions Flamby => new()
    {
        Label = "num",
        Positive = LabelRule.Parse("> 0"),
        Drop = ["slope", "ca", "thal"],
        Categorical = new Dictionary<string, IReadOnlyList<string>>
        {
            ["cp"] = ["1", "2", "3", "4"],
            ["restecg"] = ["0", "1", "2"],
        },
        DropFirst = true,
        Missing = MissingValues.Drop,
        Standardize = true,
        TrainFraction = 0.66,
        SplitSeed = 43,
        Stratify = true,
    };

    public static TabularSplit Load(string hospital) => TabularPreprocessor.LoadFile(PathOf(hospital), Read, Flamby);

    /// <summary>The folder holding Cohort.slnx, found by walking up from the test binaries.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Cohort.slnx"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no Cohort.slnx above {AppContext.BaseDirectory}");
    }
}
