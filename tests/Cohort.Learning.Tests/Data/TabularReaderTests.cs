using Cohort.Learning.Data;

namespace Cohort.Learning.Tests.Data;

public sealed class TabularReaderTests
{
    private static TabularTable Read(string text, TabularReadOptions options, string source = "test.csv") =>
        TabularReader.Read(new StringReader(text), source, options);

    [Fact]
    public void Uci_format_has_no_header_and_reads_question_marks_as_missing()
    {
        var t = Read("1,2.5,?\n3,.5,7\n", new TabularReadOptions { Format = TabularFormat.Uci, Columns = ["a", "b", "c"] });

        Assert.Equal(2, t.RowCount);
        Assert.Equal([1.0, 3.0], t["a"].Numbers!);
        Assert.Equal([2.5, 0.5], t["b"].Numbers!);
        Assert.True(t["c"].IsMissing(0));
        Assert.Equal(7.0, t["c"].Numbers![1]);
    }

    [Fact]
    public void Csv_header_names_the_columns_and_empty_fields_are_missing()
    {
        var t = Read("x, y ,label\n1,,yes\n2,4,\n", new TabularReadOptions { TextColumns = new HashSet<string> { "label" } });

        Assert.Equal(["x", "y", "label"], t.Columns.Select(c => c.Name));
        Assert.True(t["y"].IsMissing(0));
        Assert.Equal("yes", t["label"].Texts![0]);
        Assert.Null(t["label"].Texts![1]);
    }

    [Fact]
    public void A_header_row_holding_a_number_is_refused_as_data_and_the_server_is_not_told_its_cells()
    {
        // A file without a header read as if it had one: its first patient would become the column names.
        var e = Assert.Throws<TabularDataException>(() => Read("63.0,1.0,145.0,233.0\n67.0,1.0,160.0,286.0\n", new TabularReadOptions(), "/site/cleveland.data"));

        Assert.Equal("/site/cleveland.data:1: header cell 1 is '63.0', a number: the first row may be data, which must not become column names (a file without a header: header: false with the names under columns; a header whose names are numbers: give the names under columns)", e.Message);
        Assert.Equal("cleveland.data: a header cell is a number: the first row may be data, which must not become column names (a file without a header: header: false with the names under columns; a header whose names are numbers: give the names under columns)", e.SharedMessage);
        // A header whose names are numbers reads once the plan gives the names.
        Assert.Equal(["y2019", "y2020"], Read("2019,2020\n1,2\n", new TabularReadOptions { Columns = ["y2019", "y2020"] }).Columns.Select(c => c.Name));
        var missing = Assert.Throws<TabularDataException>(() => Read("age,SECRETROW0\n1,2\n", new TabularReadOptions { TextColumns = new HashSet<string> { "label" } }));
        Assert.Equal("test.csv: no column 'label' among the file's 2 columns", missing.SharedMessage);
    }

    [Fact]
    public void Csv_without_header_takes_the_given_column_names()
    {
        var t = Read("1,2\n", new TabularReadOptions { Header = false, Columns = ["a", "b"] });

        Assert.Equal(2.0, t["b"].Numbers![0]);
    }

    [Fact]
    public void Quoted_fields_may_hold_commas_and_quotes()
    {
        var t = Read("name,v\n\"Smith, \"\"Jr\"\"\",1\n", new TabularReadOptions { TextColumns = new HashSet<string> { "name" } });

        Assert.Equal("Smith, \"Jr\"", t["name"].Texts![0]);
    }

    [Fact]
    public void Rows_remember_their_line_numbers_across_blank_lines()
    {
        var t = Read("a\n1\n\n2\n", new TabularReadOptions());

        Assert.Equal([2, 4], t.Lines);
    }

    [Fact]
    public void A_value_that_is_not_a_number_names_file_line_and_column()
    {
        string dir = Directory.CreateTempSubdirectory("cohort-reader-").FullName;
        try
        {
            string path = Path.Combine(dir, "processed.va.data");
            var lines = Enumerable.Repeat("63,1,4,140,260,0,1,112,1,3,2,?,?,2", 16).Append("63,1,4,140,abc,0,1,112,1,3,2,?,?,2");
            File.WriteAllLines(path, lines);

            var e = Assert.Throws<TabularDataException>(() => TabularReader.ReadFile(path, new TabularReadOptions { Format = TabularFormat.Uci, Columns = HeartDiseaseData.Columns }));

            Assert.Equal("processed.va.data:17: column 'chol': 'abc' is not a number", e.Message);
            Assert.Equal(17, e.Line);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_row_with_the_wrong_number_of_fields_names_its_line()
    {
        var e = Assert.Throws<TabularDataException>(() => Read("a,b\n1,2\n3\n", new TabularReadOptions(), "data.csv"));

        Assert.Equal("data.csv:3: expected 2 fields, found 1", e.Message);
    }

    [Fact]
    public void Skipped_columns_are_not_parsed()
    {
        var t = Read("a,junk\n1,not-a-number\n", new TabularReadOptions { SkipColumns = new HashSet<string> { "junk" } });

        Assert.Single(t.Columns);
    }

    [Fact]
    public void Naming_a_column_the_file_lacks_lists_the_columns()
    {
        var e = Assert.Throws<TabularDataException>(() => Read("a,b\n1,2\n", new TabularReadOptions { TextColumns = new HashSet<string> { "label" } }, "d.csv"));

        Assert.Equal("d.csv: no column 'label' (columns: a, b)", e.Message);
    }

    [Fact]
    public void A_file_without_header_needs_column_names()
    {
        var e = Assert.Throws<TabularDataException>(() => Read("1,2\n", new TabularReadOptions { Format = TabularFormat.Uci }, "d.data"));

        Assert.Contains("column names must be given", e.Message);
    }
}
