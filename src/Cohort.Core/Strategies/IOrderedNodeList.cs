namespace Cohort.Strategies;

/// <summary>
/// A node list already in ordinal order whose entries are made on demand (a million numbered virtual
/// clients, say), so sampling reads only the nodes it picks instead of sorting and copying them all.
/// </summary>
internal interface IOrderedNodeList : IReadOnlyList<string>
{
}
