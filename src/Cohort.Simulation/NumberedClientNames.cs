using System.Collections;
using System.Globalization;
using Cohort.Strategies;

namespace Cohort.Simulation;

/// <summary>
/// The names of numbered virtual clients ("client-0042"), made when asked for rather than stored: a
/// million idle clients cost no strings, and sampling a round reads only the names it picks. The
/// numbers are zero-padded to one width, so index order is ordinal order.
/// </summary>
internal sealed class NumberedClientNames : IOrderedNodeList
{
    private const string Prefix = "client-";
    private readonly int _digits;

    /// <summary>Names for <paramref name="clients"/> clients.</summary>
    public NumberedClientNames(int clients)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(clients);
        Count = clients;
        _digits = Math.Max(2, clients.ToString(CultureInfo.InvariantCulture).Length);
    }

    /// <inheritdoc />
    public int Count { get; }

    /// <inheritdoc />
    public string this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"client index out of range 0..{Count - 1}");
            return Prefix + (index + 1).ToString(CultureInfo.InvariantCulture).PadLeft(_digits, '0');
        }
    }

    /// <summary>The index of client <paramref name="name"/>, or -1 when it is not one of these names.</summary>
    public int IndexOf(string name) =>
        name.Length == Prefix.Length + _digits && name.StartsWith(Prefix, StringComparison.Ordinal)
        && int.TryParse(name.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 && n <= Count
            ? n - 1 : -1;

    /// <inheritdoc />
    public IEnumerator<string> GetEnumerator()
    {
        for (int i = 0; i < Count; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
