//! Load balancer certificates (CloudStack's CertService commands).

use super::objects::SUCCESS;
use super::objects_net::SSL_CERT;
use crate::registry::{CommandSpec, ParamType::*};

pub fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("uploadSslCert", "Upload a certificate for HTTPS direct load balancing")
            .returns("sslcert", SSL_CERT)
            .related("listSslCerts")
            .req("certificate", String, "SSL certificate (PEM)")
            .len(65536)
            .req("privatekey", String, "Private key (PEM, unencrypted)")
            .len(65536)
            .req("name", String, "Name for the uploaded certificate")
            .opt("certchain", String, "Certificate chain of trust (PEM)")
            .len(65536)
            .opt("password", String, "Password for the private key (encrypted keys are not supported: refused)")
            .opt("account", String, "account that will own the SSL certificate")
            .opt("domainid", Uuid, "domain ID of the account owning the SSL certificate")
            .rel("listDomains")
            .opt("enabledrevocationcheck", Boolean, "Enables revocation checking for certificates (accepted)"),
        CommandSpec::new("listSslCerts", "Lists SSL certificates")
            .returns("sslcert", SSL_CERT)
            .list()
            .opt("certid", Uuid, "ID of SSL certificate")
            .rel("listSslCerts")
            .opt("lbruleid", Uuid, "Load balancer rule ID")
            .rel("listLoadBalancerRules")
            .opt("accountid", Uuid, "Account ID")
            .rel("listAccounts")
            .opt("projectid", Uuid, "Project that owns the SSL certificate")
            .rel("listProjects"),
        CommandSpec::new("deleteSslCert", "Delete a certificate to CloudStack")
            .returns("success", SUCCESS)
            .req("id", Uuid, "Id of SSL certificate")
            .rel("listSslCerts"),
        CommandSpec::new("assignCertToLoadBalancer", "Assigns a certificate to a load balancer rule")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("lbruleid", Uuid, "the ID of the load balancer rule")
            .rel("listLoadBalancerRules")
            .req("certid", Uuid, "the ID of the certificate")
            .rel("listSslCerts")
            .opt("forced", Boolean, "Force assign the certificate. If there is a certificate bound to the LB, it will be removed first."),
        CommandSpec::new("removeCertFromLoadBalancer", "Removes a certificate from a load balancer rule")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("lbruleid", Uuid, "the ID of the load balancer rule")
            .rel("listLoadBalancerRules"),
    ]
}
