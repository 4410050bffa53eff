using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;
using static Cohort.Tests.Strategies.StrategyTestKit;

namespace Cohort.Tests.Strategies;

/// <summary>FedAvgM and the FedOpt family against values worked out by hand.</summary>
public sealed class ServerOptimizerTests
{
    [Fact]
    public void FedAvgM_applies_server_momentum_to_the_pseudo_gradient()
    {
        var strategy = new FedAvgM(Params(("server_learning_rate", 0.5), ("server_momentum", 0.9)));
        // Weighted average of [2,2]×1 and [4,6]×3 is [3.5,5]. Round 1 from [1,2]: Δ = [2.5,3], v = −Δ,
        // x = [1,2] + 0.5·[2.5,3] = [2.25,3.5].
        var x1 = Aggregate(strategy, Model(1, 2), Fit([2, 2], 1), Fit([4, 6], 3));
        Near([2.25f, 3.5f], Values(x1));
        // Round 2 from [2.25,3.5]: Δ = [1.25,1.5], v = 0.9·[−2.5,−3] − [1.25,1.5] = [−3.5,−4.2], x = x − 0.5·v = [4,5.6].
        var x2 = Aggregate(strategy, x1, Fit([2, 2], 1), Fit([4, 6], 3));
        Near([4f, 5.6f], Values(x2));
    }

    [Fact]
    public void FedAvgM_with_unit_rate_and_no_momentum_is_FedAvg()
    {
        var x = Aggregate(new FedAvgM(Params(("server_learning_rate", 1.0), ("server_momentum", 0.0))), Model(1, 2), Fit([2, 2], 1), Fit([4, 6], 3));
        Near([3.5f, 5f], Values(x));
    }

    [Fact]
    public void FedAdam_first_step_is_eta_times_m_over_root_v_plus_tau()
    {
        var strategy = new FedAdam(Params(("server_learning_rate", 0.1), ("beta_1", 0.9), ("beta_2", 0.99), ("tau", 0.001)));
        // Δ = 1: m = 0.1, v = 0.01, step = 0.1·0.1/(0.1 + 0.001).
        var x1 = Aggregate(strategy, Model(0), Fit([1]));
        Near(0.1f * 0.1f / 0.101f, Values(x1)[0]);
        // Round 2: Δ = 1 − x1; m = 0.09 + 0.1Δ; v = 0.0099 + 0.01Δ².
        float w1 = Values(x1)[0]; // x1 is the model the next round writes over
        double d = 1 - w1, m = 0.09 + 0.1 * d, v = 0.0099 + 0.01 * d * d;
        var x2 = Aggregate(strategy, x1, Fit([1]));
        Near((float)(w1 + 0.1 * m / (Math.Sqrt(v) + 0.001)), Values(x2)[0]);
    }

    [Fact]
    public void FedYogi_grows_v_additively_and_shrinks_it_when_the_update_gets_smaller()
    {
        var strategy = new FedYogi(Params(("server_learning_rate", 0.1), ("beta_1", 0.9), ("beta_2", 0.99), ("tau", 0.001)));
        // Round 1, v = 0 < Δ² = 4: v = 0 + 0.01·4 = 0.04, m = 0.2, x = 0.1·0.2/(0.2 + 0.001).
        var x1 = Aggregate(strategy, Model(0), Fit([2]));
        Near(0.1f * 0.2f / 0.201f, Values(x1)[0]);
        // Round 2, result equal to x1 + 0.1: Δ² = 0.01 < v = 0.04, so v shrinks: v = 0.04 − 0.01·0.01 = 0.0399;
        // m = 0.18 + 0.1·0.1 = 0.19.
        float start = Values(x1)[0];
        var x2 = Aggregate(strategy, x1, Fit([start + 0.1f]));
        Near((float)(start + 0.1 * 0.19 / (Math.Sqrt(0.0399) + 0.001)), Values(x2)[0], 1e-4f);
    }

    [Fact]
    public void FedAdagrad_accumulates_squared_pseudo_gradients()
    {
        var strategy = new FedAdagrad(Params(("server_learning_rate", 0.1), ("beta_1", 0.0), ("tau", 0.001)));
        // β₁ = 0: m = Δ. Round 1: Δ = 3, v = 9, x = 0.1·3/(3.001). Round 2 from x1 with result x1 + 4: v = 25, x = x1 + 0.1·4/5.001.
        var x1 = Aggregate(strategy, Model(0), Fit([3]));
        Near(0.3f / 3.001f, Values(x1)[0]);
        float w1 = Values(x1)[0]; // x1 is the model the next round writes over
        var x2 = Aggregate(strategy, x1, Fit([w1 + 4]));
        Near(w1 + 0.4f / 5.001f, Values(x2)[0], 1e-4f);
    }

    [Fact]
    public void FedOpt_keeps_integer_tensors_and_handles_float64()
    {
        var global = new Cohort.Parameters.ParameterSet([
            new Cohort.Parameters.Tensor("d", Cohort.Parameters.DType.Float64, [1], BitConverter.GetBytes(0.0)),
        ]);
        var result = new Cohort.Parameters.ParameterSet([
            new Cohort.Parameters.Tensor("d", Cohort.Parameters.DType.Float64, [1], BitConverter.GetBytes(1.0)),
        ]);
        var x = Aggregate(new FedAdam(Params(("server_learning_rate", 0.1), ("tau", 0.001))), global, new Cohort.Apps.FitResult(result, 1, Metrics.Empty));
        Assert.Equal(0.1 * 0.1 / 0.101, x["d"].AsFloat64()[0], 12);
    }

    [Theory]
    [InlineData("fedavgm")]
    [InlineData("fedadam")]
    public void The_new_model_keeps_the_global_models_integer_tensors(string name)
    {
        static Cohort.Parameters.ParameterSet WithStep(float w, byte step)
        {
            var counter = Cohort.Parameters.Tensor.Zeros("step", Cohort.Parameters.DType.Int64, [1]);
            counter.Data[0] = step;
            return new([Cohort.Parameters.Tensor.FromFloat32("w", [1], [w]), counter]);
        }
        IStrategy strategy = name == "fedavgm" ? new FedAvgM(Params(("server_learning_rate", 1.0), ("server_momentum", 0.0))) : new FedAdam(Params(("server_learning_rate", 0.1)));
        var global = WithStep(1, 7);
        var x = Aggregate(strategy, global, new Cohort.Apps.FitResult(WithStep(3, 9), 1, Metrics.Empty));
        // The step is written over the global model itself: the counter must still be the global's.
        Assert.Same(global, x);
        Assert.Equal(7, x["step"].Data[0]);
        if (name == "fedavgm") Assert.Equal(3f, x["w"].AsFloat32()[0]);
        else Assert.True(x["w"].AsFloat32()[0] > 1f);
    }

    [Fact]
    public void FedAvgM_in_place_step_is_bit_identical_to_the_step_over_whole_tensors()
    {
        // Lengths across several accumulator blocks and not a multiple of any vector width; both float types and a counter.
        int n32 = 3 * ReproducibleSum.BlockValues + 123, n64 = ReproducibleSum.BlockValues + 5;
        var random = new Random(11);
        ParameterSet Perturbed(ParameterSet around, double spread) => new(around.Select(t => t.DType == DType.Float32
            ? Tensor.FromFloat32(t.Name, [n32], t.AsFloat32().ToArray().Select(v => v + (float)((random.NextDouble() - 0.5) * spread)).ToArray())
            : t.DType == DType.Float64
                ? Float64(t.Name, t.AsFloat64().ToArray().Select(v => v + (random.NextDouble() - 0.5) * spread).ToArray())
                : t.Clone()));
        static Tensor Float64(string name, double[] values)
        {
            var t = Tensor.Zeros(name, DType.Float64, [values.Length]);
            values.CopyTo(t.AsFloat64());
            return t;
        }
        var counter = Tensor.Zeros("step", DType.Int64, [1]);
        counter.Data[0] = 5;
        var global = new ParameterSet([Tensor.FromFloat32("w", [n32], new float[n32]), Float64("b", new double[n64]), counter]);
        global = Perturbed(global, 2);
        const double eta = 0.7, beta = 0.9;
        var strategy = new FedAvgM(Params(("server_learning_rate", eta), ("server_momentum", beta)));
        var expected = global.Clone();
        var velocity = global.ZerosLike();
        for (int round = 1; round <= 3; round++)
        {
            var results = Enumerable.Range(0, 3).Select(k => new FitResult(Perturbed(expected, 0.1), 10 + k, Metrics.Empty)).ToArray();
            // The step as it was written before, over whole tensors, from FedAvg's mean.
            var delta = Aggregate(new FedAvg(), expected, results);
            ParameterMath.Subtract(delta, expected, delta);
            var w = delta["w"].AsFloat32();
            var vw = velocity["w"].AsFloat32();
            System.Numerics.Tensors.TensorPrimitives.Multiply(vw, (float)beta, vw);
            System.Numerics.Tensors.TensorPrimitives.Subtract(vw, w, vw);
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(vw, (float)-eta, expected["w"].AsFloat32(), expected["w"].AsFloat32());
            var b = delta["b"].AsFloat64();
            var vb = velocity["b"].AsFloat64();
            System.Numerics.Tensors.TensorPrimitives.Multiply(vb, beta, vb);
            System.Numerics.Tensors.TensorPrimitives.Subtract(vb, b, vb);
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(vb, -eta, expected["b"].AsFloat64(), expected["b"].AsFloat64());

            global = Aggregate(strategy, global, results);
            Assert.Equal(expected["w"].Data, global["w"].Data);
            Assert.Equal(expected["b"].Data, global["b"].Data);
            Assert.Equal(5, global["step"].Data[0]);
        }
        // And the velocity it keeps is the same, bit for bit.
        var saved = strategy.Save();
        Assert.Equal(velocity["w"].Data, saved.Tensors["velocity/w"].Data);
        Assert.Equal(velocity["b"].Data, saved.Tensors["velocity/b"].Data);
    }

    [Fact]
    public void A_parameter_out_of_range_names_the_strategy_key_and_rule()
    {
        var e = Assert.Throws<StrategyParameterException>(() => new FedYogi(Params(("beta_2", 1.5))));
        Assert.Equal("beta_2", e.Key);
        Assert.Contains("fedyogi", e.Message);
        Assert.Contains("[0, 1)", e.Message);
    }
}
