using Cohort.Engine.Nodes;
using Cohort.Plans;

namespace Cohort.Engine.Runs;

/// <summary>Why a run is waiting for nodes, in words that say which requirement the connected nodes miss.</summary>
public static class NodeWait
{
    /// <summary>
    /// "waiting for nodes: 0 of 3 connected nodes hold dataset 'claims' (2 needed)" when the plan names a
    /// data set, else "waiting for nodes: 1 node with app 'tabular' online (2 needed)"; counts honour
    /// the plan's <c>selection.nodes</c>.
    /// </summary>
    public static string Reason(INodePool pool, Plan plan, int wanted)
    {
        int connected = plan.Selection.Allowed(pool.Available(plan.App.Name)).Count;
        if (plan.Dataset is { } dataset)
        {
            int holding = plan.Selection.Allowed(pool.Available(plan.App.Name, dataset)).Count;
            return $"waiting for nodes: {holding} of {connected} connected node{(connected == 1 ? "" : "s")} with app '{plan.App.Name}' hold dataset '{dataset}' ({wanted} needed)";
        }
        return $"waiting for nodes: {connected} node{(connected == 1 ? "" : "s")} with app '{plan.App.Name}' online ({wanted} needed)";
    }
}
