namespace Cohort.Strategies;

/// <summary>The kind of value a strategy parameter takes.</summary>
public enum StrategyParameterType
{
    /// <summary>Any finite number (an integer reads as one).</summary>
    Number,

    /// <summary>A whole number.</summary>
    Integer,

    /// <summary>A text.</summary>
    Text,

    /// <summary>true or false.</summary>
    Bool,
}
