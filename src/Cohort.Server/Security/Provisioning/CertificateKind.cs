namespace Cohort.Server.Security.Provisioning;

/// <summary>What a federation certificate is for; written into its subject as the organisational unit.</summary>
internal enum CertificateKind
{
    /// <summary>The federation's certificate authority.</summary>
    Ca,

    /// <summary>The coordinating server (TLS server authentication).</summary>
    Server,

    /// <summary>A site's node (TLS client authentication under its node name).</summary>
    Node,

    /// <summary>A person or tool operating the federation, with a role.</summary>
    Admin,
}
