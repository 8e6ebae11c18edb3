// SSL certificates for load balancers: upload (PEM), list, delete; a load balancer rule's
// certificate is assigned from its public IP's page.

import { Row } from "../api";
import { confirmAct, formAct, from } from "../actions";
import { h } from "../dom";
import { listView } from "../table";

export function certificates(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "SSL certificates"),
    listView({
      command: "listSslCerts",
      columns: [
        { key: "name", label: "Name" },
        { key: "fingerprint", label: "Fingerprint (SHA-1)", minor: true },
        { key: "loadbalancerrulelist", label: "Load balancers", render: (c) => String((c.loadbalancerrulelist ?? []).length) },
        { key: "account", label: "Account", minor: true },
      ],
      tools: [
        {
          label: "+ Upload certificate",
          primary: true,
          run: (r) =>
            formAct(
              "Upload SSL certificate",
              [
                { name: "name", label: "Name", required: true },
                { name: "certificate", label: "Certificate (PEM)", type: "textarea", required: true },
                { name: "privatekey", label: "Private key (PEM, unencrypted)", type: "textarea", required: true },
                { name: "certchain", label: "Issuers' chain (PEM, optional)", type: "textarea" },
              ],
              "uploadSslCert",
              {},
              r,
            ),
        },
      ],
      actions: [{ label: "Delete", danger: true, run: (c, r) => confirmAct(`Delete ${c.name}`, `Delete the certificate ${c.name}?`, "deleteSslCert", { id: c.id }, r) }],
    }),
  );
}

/** A load balancer rule's certificate actions (its public IP's page). */
export function lbCertActions() {
  return [
    {
      label: "Certificate",
      show: (lb: Row) => lb.protocol === "ssl",
      run: (lb: Row, r: () => void) =>
        formAct(`Certificate of ${lb.name}`, [{ name: "certid", label: "Certificate", type: "select", required: true, options: from("listSslCerts") }], "assignCertToLoadBalancer", { lbruleid: lb.id }, r),
    },
    {
      label: "Remove certificate",
      show: (lb: Row) => lb.protocol === "ssl",
      run: (lb: Row, r: () => void) => confirmAct(`Remove the certificate of ${lb.name}`, `Remove the certificate from ${lb.name}?`, "removeCertFromLoadBalancer", { lbruleid: lb.id }, r),
    },
  ];
}
