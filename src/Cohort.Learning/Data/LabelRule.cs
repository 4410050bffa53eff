using System.Globalization;

namespace Cohort.Learning.Data;

/// <summary>
/// Binarises a label: a rule such as "> 0", ">= 1", "== yes" or "!= none" says which values are the
/// positive class. Order comparisons need numbers; equality compares numerically when both sides are
/// numbers ("1" equals "1.0") and as exact text otherwise.
/// </summary>
internal sealed class LabelRule
{
    private static readonly string[] Operators = [">=", "<=", "==", "!=", ">", "<"];

    private readonly string _operator;
    private readonly string _operand;
    private readonly double _number;

    private LabelRule(string op, string operand)
    {
        _operator = op;
        _operand = operand;
        _number = TryNumber(operand, out double n) ? n : double.NaN;
    }

    /// <summary>The rule as written, normalised ("&gt; 0").</summary>
    public string Text => $"{_operator} {_operand}";

    /// <summary>Parses a rule; throws <see cref="FormatException"/> naming the allowed operators.</summary>
    public static LabelRule Parse(string rule)
    {
        var s = rule.AsSpan().Trim();
        foreach (var op in Operators)
        {
            if (!s.StartsWith(op, StringComparison.Ordinal)) continue;
            string operand = s[op.Length..].Trim().ToString();
            if (operand.Length >= 2 && operand[0] is '"' or '\'' && operand[^1] == operand[0]) operand = operand[1..^1];
            if (operand.Length == 0) throw new FormatException($"label rule '{rule}' has no value after '{op}'");
            var r = new LabelRule(op, operand);
            if (op is not ("==" or "!=") && double.IsNaN(r._number))
                throw new FormatException($"label rule '{rule}': '{op}' needs a number, got '{operand}'");
            return r;
        }
        throw new FormatException($"label rule '{rule}' must start with one of {string.Join(", ", Operators)} (e.g. \"> 0\" or \"== yes\")");
    }

    /// <summary>Whether <paramref name="value"/> is positive; <paramref name="source"/> and <paramref name="line"/> locate errors.</summary>
    public bool IsPositive(string value, string source, int line)
    {
        bool isNumber = TryNumber(value, out double v);
        switch (_operator)
        {
            case "==": return Equal(value, isNumber, v);
            case "!=": return !Equal(value, isNumber, v);
        }
        if (!isNumber) throw new TabularDataException(source, line, $"label '{value}' is not a number, so rule '{Text}' cannot apply",
            $"a label is not a number, so rule '{Text}' cannot apply");
        return _operator switch
        {
            ">" => v > _number,
            ">=" => v >= _number,
            "<" => v < _number,
            _ => v <= _number,
        };
    }

    private bool Equal(string value, bool isNumber, double v) =>
        isNumber && !double.IsNaN(_number) ? v == _number : string.Equals(value, _operand, StringComparison.Ordinal);

    private static bool TryNumber(string s, out double value) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    /// <inheritdoc />
    public override string ToString() => Text;
}
