namespace Cohort.Apps;

/// <summary>
/// A client app factory that can read the schema of a data set it would train on (column names and
/// their inferred types), so a node can declare its data sets to the server by schema hash, never by content.
/// </summary>
public interface IDatasetDescriber
{
    /// <summary>The schema of the data at <paramref name="path"/>; throws with a message naming the file and line when it cannot be read.</summary>
    DatasetSchema DescribeDataset(string path);
}
