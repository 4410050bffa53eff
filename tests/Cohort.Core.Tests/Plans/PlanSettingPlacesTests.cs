using Cohort.Plans;

namespace Cohort.Tests.Plans;

public sealed class PlanSettingPlacesTests
{
    private const string Yaml = """
        name: fraud
        app:
          name: tabular
          settings:
            label: is_fraud
            class_wieght: balanced
        strategy:
          name: fedavg
        rounds: 2
        """;

    [Fact]
    public void A_problem_is_placed_at_the_first_setting_it_quotes_that_the_plan_has()
    {
        var places = PlanSettingPlaces.Of(Yaml, "typos.yaml");
        var key = places.SettingIn("app setting 'class_wieght' is not known (did you mean 'class_weight'?)");
        Assert.NotNull(key);
        Assert.Equal("typos.yaml:6:5", places.Place(key));
        // 'label' is in the plan and quoted first.
        Assert.Equal("typos.yaml:5:5", places.Place(places.SettingIn("app setting 'label.x' is odd; see 'class_wieght'")!));
    }

    [Fact]
    public void A_problem_quoting_no_setting_of_the_plan_has_no_place_and_falls_back_to_the_settings_section()
    {
        var places = PlanSettingPlaces.Of(Yaml, "typos.yaml");
        Assert.Null(places.SettingIn("no column 'is_frauds' (label) among the file's 9 columns"));
        Assert.Null(places.SettingIn("the data file is empty"));
        Assert.Equal("typos.yaml:5:5", places.Place(places.Settings));
        Assert.Equal("typos.yaml:8:9", places.Place(places.StrategyName));
    }

    [Fact]
    public void A_plan_without_settings_places_at_its_app_section()
    {
        var places = PlanSettingPlaces.Of("name: x\napp:\n  name: tabular\nstrategy:\n  name: fedavg\n", "p.yaml");
        Assert.Equal("p.yaml:3:3", places.Place(places.Settings));
        Assert.Null(places.SettingIn("app setting 'label' is missing"));
    }

    [Fact]
    public void A_plan_with_a_repeated_key_is_still_placed_leaving_the_repeat_to_the_parser()
    {
        var places = PlanSettingPlaces.Of("name: a\nrounds: 3\nrounds: 4\napp: { name: tabular, settings: { label: y } }\n", "d.yaml");

        Assert.Equal("d.yaml:4:35", places.Place(places.SettingIn("app setting 'label' is odd")!));
    }
}
