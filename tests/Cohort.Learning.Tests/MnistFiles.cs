using Cohort.Learning.Data.Mnist;

namespace Cohort.Learning.Tests;

/// <summary>The MNIST IDX files under examples/mnist/data, loaded once per test process.</summary>
internal static class MnistFiles
{
    public static string DataDirectory => Path.Combine(HeartDiseaseData.RepositoryRoot(), "examples", "mnist", "data");

    public static MnistData Data => MnistData.Shared(DataDirectory);
}
