using System.Globalization;
using System.Text;

namespace Cohort.Cli.Commands;

/// <summary>
/// Writes the card-fraud example's data (examples/fraud/data): three banks' transactions, generated
/// from a fixed seed so the files are the same on every machine. Fraud is rare (about 2–6% by bank)
/// and follows a known logistic rule of the features plus noise. The banks differ as real ones do:
/// bank_b books amounts in a currency worth 1/25 of the others', bank_c has far more online and
/// foreign transactions, and their fraud rates differ. Each file starts with an unnamed index column,
/// as pandas' to_csv writes it.
/// </summary>
internal static class FraudExampleData
{
    /// <summary>The banks: file name, rows, currency units per euro, share of online merchants, fraud intercept.</summary>
    public static readonly (string Name, int Rows, double Currency, double Online, double Intercept)[] Banks =
    [
        ("bank_a", 3000, 1.0, 0.25, -6.5),
        ("bank_b", 2000, 25.0, 0.20, -6.4),
        ("bank_c", 1500, 1.0, 0.55, -7.3),
    ];

    private static readonly string[] OfflineMerchants = ["grocery", "fuel", "restaurant", "travel"];
    private static readonly string[] OnlineMerchants = ["online_retail", "electronics", "digital_goods"];

    /// <summary>The header every bank's file has.</summary>
    public const string Header = ",amount,hour,merchant,card_present,distance_km,transactions_24h,account_age_days,foreign,is_fraud";

    /// <summary>Writes bank_a.csv, bank_b.csv and bank_c.csv into <paramref name="dir"/>; returns their paths.</summary>
    public static IReadOnlyList<string> Write(string dir, int seed = 20240601)
    {
        Directory.CreateDirectory(dir);
        var paths = new List<string>();
        for (int b = 0; b < Banks.Length; b++)
        {
            var bank = Banks[b];
            var random = new Random(seed + 7919 * b);
            var sb = new StringBuilder(Header).Append('\n');
            for (int i = 0; i < bank.Rows; i++) sb.Append(i.ToString(CultureInfo.InvariantCulture)).Append(',').Append(Row(random, bank.Currency, bank.Online, bank.Intercept)).Append('\n');
            string path = Path.Combine(dir, bank.Name + ".csv");
            File.WriteAllText(path, sb.ToString());
            paths.Add(path);
        }
        return paths;
    }

    private static string Row(Random random, double currency, double onlineShare, double intercept)
    {
        bool online = random.NextDouble() < onlineShare;
        string merchant = online ? OnlineMerchants[random.Next(OnlineMerchants.Length)] : OfflineMerchants[random.Next(OfflineMerchants.Length)];
        bool cardPresent = !online && random.NextDouble() < 0.9;
        double euros = Math.Exp(3.6 + 1.0 * Gaussian(random) + (merchant is "travel" or "electronics" ? 1.0 : 0));
        int hour = (int)((14 + 5 * Gaussian(random)) % 24 + 24) % 24;
        double distance = cardPresent ? Math.Exp(1.5 + 1.2 * Gaussian(random)) : Math.Exp(3 + 1.5 * Gaussian(random));
        int recent = Poisson(random, 2.0);
        double age = Math.Exp(6.5 + 1.0 * Gaussian(random));
        bool foreign = random.NextDouble() < (online ? 0.25 : 0.05);

        double z = intercept
            + 0.9 * Math.Log(euros / 40)
            + 1.0 * (merchant is "electronics" or "digital_goods" ? 1 : 0)
            + 1.3 * (cardPresent ? 0 : 1)
            + 0.45 * Math.Log(1 + distance / 20)
            + 0.35 * recent
            - 0.6 * Math.Log(age / 600)
            + 1.1 * (foreign ? 1 : 0)
            + 0.9 * (hour < 6 ? 1 : 0)
            + 0.8 * Gaussian(random);
        bool fraud = random.NextDouble() < 1 / (1 + Math.Exp(-z));
        if (fraud) recent += Poisson(random, 1.5); // fraudsters test a card with a burst of payments
        return string.Create(CultureInfo.InvariantCulture,
            $"{euros * currency:0.00},{hour},{merchant},{(cardPresent ? 1 : 0)},{distance:0.0},{recent},{age:0},{(foreign ? 1 : 0)},{(fraud ? 1 : 0)}");
    }

    private static int Poisson(Random random, double mean)
    {
        double limit = Math.Exp(-mean), p = random.NextDouble();
        int k = 0;
        while (p > limit)
        {
            p *= random.NextDouble();
            k++;
        }
        return k;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
