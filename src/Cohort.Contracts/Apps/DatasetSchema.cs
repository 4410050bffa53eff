using System.Security.Cryptography;
using System.Text;

namespace Cohort.Apps;

/// <summary>
/// The shape of a node's data set: its columns' names and inferred types, in file order. Its
/// <see cref="Hash"/> is what a node sends the server, so operators can tell which nodes hold data of
/// the same shape without any value leaving the site.
/// </summary>
public sealed record DatasetSchema(IReadOnlyList<DatasetColumn> Columns)
{
    /// <summary>Hex SHA-256 of the columns, one "name&lt;TAB&gt;type&lt;LF&gt;" line each, in order.</summary>
    public string Hash
    {
        get
        {
            var text = new StringBuilder();
            foreach (var c in Columns) text.Append(c.Name).Append('\t').Append(c.Type).Append('\n');
            return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
        }
    }

    /// <summary>The first characters of a hash, as listings show it.</summary>
    public static string Short(string hash) => hash.Length > 12 ? hash[..12] : hash.Length == 0 ? "-" : hash;
}

/// <summary>One column of a <see cref="DatasetSchema"/>.</summary>
/// <param name="Name">Column name as the file gives it.</param>
/// <param name="Type">Inferred type: "number" (every present value is a number) or "text".</param>
public sealed record DatasetColumn(string Name, string Type);
