using Cohort.Learning.Data;

namespace Cohort.Learning.Tests.Data;

public sealed class TabularPreprocessorTests
{
    private static TabularSplit Process(string csv, TabularPreprocessorOptions options, string source = "t.csv")
    {
        var read = TabularPreprocessor.ReadOptionsFor(new TabularReadOptions(), options);
        return TabularPreprocessor.Process(TabularReader.Read(new StringReader(csv), source, read), options);
    }

    [Theory]
    [InlineData("cleveland", 303, 199, 104)]
    [InlineData("hungarian", 261, 172, 89)]
    [InlineData("switzerland", 46, 30, 16)]
    [InlineData("va", 130, 85, 45)]
    public void Heart_disease_hospitals_split_into_flambys_train_and_test_counts(string hospital, int rows, int train, int test)
    {
        var split = HeartDiseaseData.Load(hospital);

        Assert.Equal(rows, split.Train.Count + split.Test.Count);
        Assert.Equal(train, split.Train.Count);
        Assert.Equal(test, split.Test.Count);
    }

    [Fact]
    public void Heart_disease_keeps_740_complete_rows_over_the_four_hospitals()
    {
        int total = HeartDiseaseData.Hospitals.Select(HeartDiseaseData.Load).Sum(s => s.Train.Count + s.Test.Count);

        Assert.Equal(740, total);
    }

    [Fact]
    public void Heart_disease_has_flambys_13_features_numeric_first_then_one_hot_blocks()
    {
        var split = HeartDiseaseData.Load("cleveland");

        Assert.Equal(
            ["age", "sex", "trestbps", "chol", "fbs", "thalach", "exang", "oldpeak", "cp=2", "cp=3", "cp=4", "restecg=1", "restecg=2"],
            split.Train.FeatureNames);
    }

    [Fact]
    public void Switzerland_has_a_single_negative_so_its_split_is_not_stratified()
    {
        var split = HeartDiseaseData.Load("switzerland");

        Assert.False(split.Stratified);
        Assert.Equal(45, split.Train.PositiveCount + split.Test.PositiveCount);
        Assert.True(HeartDiseaseData.Load("cleveland").Stratified);
    }

    [Fact]
    public void Stratified_hospitals_keep_their_class_balance_in_both_splits()
    {
        var split = HeartDiseaseData.Load("cleveland");

        // Cleveland has 139 positives of 303; approximate mode gives 91 of 199 for training.
        Assert.Equal(91, split.Train.PositiveCount);
        Assert.Equal(48, split.Test.PositiveCount);
    }

    [Fact]
    public void Standardisation_uses_the_training_mean_and_sample_standard_deviation()
    {
        var train = HeartDiseaseData.Load("hungarian").Train;

        for (int j = 0; j < train.FeatureCount; j++)
        {
            var column = Enumerable.Range(0, train.Count).Select(i => (double)train.Features[i * train.FeatureCount + j]).ToArray();
            double mean = column.Average();
            double std = Math.Sqrt(column.Sum(v => (v - mean) * (v - mean)) / (column.Length - 1));
            Assert.Equal(0, mean, 1e-5);
            if (std > 0) Assert.Equal(1, std, 1e-5);
        }
    }

    [Fact]
    public void String_categories_one_hot_encode_with_drop_first()
    {
        var options = new TabularPreprocessorOptions
        {
            Label = "y",
            Positive = LabelRule.Parse("== yes"),
            Categorical = new Dictionary<string, IReadOnlyList<string>> { ["colour"] = ["red", "green", "blue"] },
            DropFirst = true,
            Standardize = false,
            TrainFraction = 0.5,
        };
        var split = Process("colour,y\nred,yes\ngreen,no\nblue,yes\ngreen,no\n", options);
        var all = TabularDataset.Concat([split.Train, split.Test]);

        Assert.Equal(["colour=green", "colour=blue"], all.FeatureNames);
        var rows = Enumerable.Range(0, all.Count).Select(i => (all.Row(i)[0], all.Row(i)[1], all.Labels[i])).Order().ToArray();
        Assert.Equal([(0f, 0f, 1f), (0f, 1f, 1f), (1f, 0f, 0f), (1f, 0f, 0f)], rows);
    }

    [Fact]
    public void Numeric_categories_match_whatever_their_spelling()
    {
        var options = new TabularPreprocessorOptions
        {
            Label = "y",
            Categorical = new Dictionary<string, IReadOnlyList<string>> { ["cp"] = ["1", "2"] },
            Standardize = false,
            Stratify = false,
            TrainFraction = 0.5,
        };
        var split = Process("cp,y\n1.0,0\n2.0,1\n", options);

        Assert.Equal(1f, split.Train.Row(0)[0] + split.Train.Row(0)[1]);
    }

    [Fact]
    public void An_undeclared_category_names_file_line_and_column()
    {
        var options = new TabularPreprocessorOptions
        {
            Label = "y",
            Categorical = new Dictionary<string, IReadOnlyList<string>> { ["cp"] = ["1", "2"] },
            TrainFraction = 0.5,
        };

        var e = Assert.Throws<TabularDataException>(() => Process("cp,y\n1,0\n7,1\n", options, "site.csv"));

        Assert.Equal("site.csv:3: column 'cp': '7' is not one of the declared categories 1, 2", e.Message);
    }

    [Fact]
    public void Mean_imputation_fills_a_missing_value_with_the_training_mean()
    {
        var options = new TabularPreprocessorOptions
        {
            Label = "y",
            Missing = MissingValues.Mean,
            Standardize = false,
            Stratify = false,
            TrainFraction = 0.75,
        };
        // Every row ends up somewhere; the one missing x takes the mean of the training rows' x.
        var split = Process("x,y\n1,0\n2,1\n?,0\n6,1\n", options);
        var all = TabularDataset.Concat([split.Train, split.Test]);

        Assert.Equal(4, all.Count);
        float imputed = all.Features.Single(v => v is not (1f or 2f or 6f));
        double trainMean = split.Train.Features.Where(v => v is 1f or 2f or 6f).Average();
        Assert.Equal(trainMean, imputed, 1e-6);
    }

    [Fact]
    public void Missing_drop_removes_incomplete_rows()
    {
        var options = new TabularPreprocessorOptions { Label = "y", Standardize = false, Stratify = false, TrainFraction = 0.5 };

        var split = Process("x,y\n1,0\n?,1\n3,1\n4,?\n", options);

        Assert.Equal(2, split.Train.Count + split.Test.Count);
    }

    [Fact]
    public void Label_rules_binarise_numbers_and_text()
    {
        Assert.True(LabelRule.Parse("> 0").IsPositive("2", "f", 1));
        Assert.False(LabelRule.Parse("> 0").IsPositive("0", "f", 1));
        Assert.True(LabelRule.Parse(">= 1").IsPositive("1.0", "f", 1));
        Assert.True(LabelRule.Parse("== 1").IsPositive("1.0", "f", 1));
        Assert.True(LabelRule.Parse("== yes").IsPositive("yes", "f", 1));
        Assert.False(LabelRule.Parse("== yes").IsPositive("Yes", "f", 1));
        Assert.True(LabelRule.Parse("!= none").IsPositive("some", "f", 1));
    }

    [Fact]
    public void A_text_label_under_a_numeric_rule_names_file_and_line()
    {
        var e = Assert.Throws<TabularDataException>(() => LabelRule.Parse("> 0").IsPositive("high", "f.csv", 9));

        Assert.StartsWith("f.csv:9: label 'high' is not a number", e.Message);
    }

    [Fact]
    public void A_malformed_label_rule_lists_the_operators()
    {
        var e = Assert.Throws<FormatException>(() => LabelRule.Parse("positive"));

        Assert.Contains(">=", e.Message);
    }
}
