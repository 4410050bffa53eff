namespace Cohort.Learning.Data.Idx;

/// <summary>An unsigned-byte IDX array: its dimensions and its row-major values.</summary>
/// <param name="Dimensions">Sizes, outermost first (e.g. [60000, 28, 28]).</param>
/// <param name="Values">Row-major values, the product of the dimensions long.</param>
internal sealed record IdxArray(int[] Dimensions, byte[] Values);
