"""The calls of AWS's Security Reference Architecture (SRA) Detective solution, through boto3,
against detective-emulator.

The SRA's Lambda (aws_sra_examples/solutions/detective/detective_org/lambda/src: app.py,
common.py, detective.py) sets Detective up for an organization in this order: STS
GetCallerIdentity (its own identity, then once per Region to see which are enabled), the active
organization accounts (ListAccounts, 20 a page), trusted access for detective.amazonaws.com
(ListAWSServiceAccessForOrganization, then EnableAWSServiceAccess if absent), the service-linked
role in the management account and every member account (AssumeRole into each, IAM GetRole, then
CreateServiceLinkedRole on NoSuchEntity), and per Region: ListOrganizationAdminAccounts,
EnableOrganizationAdminAccount if there is none, AssumeRole into the delegated administrator,
ListGraphs, UpdateOrganizationConfiguration(AutoEnable), ListMembers (10, then 200 a page),
CreateMembers (50 a call, DisableEmailNotification) and UpdateDatasourcePackages. Its teardown
calls DeregisterDelegatedAdministrator and DisableAWSServiceAccess. This file makes the same
calls with the same arguments (its own code, not the SRA's); only the endpoint is the emulator's
and the SRA's sleeps are left out (the default profile has no propagation delay).

Run by emulator/tests/boto3_peers.rs, which starts the emulator and passes its address in
EMULATOR_ENDPOINT; the world each case needs is set through the emulator's control endpoints.
"""

import json
import math
import os
import tempfile
import unittest
import urllib.request

import boto3
import botocore.exceptions

ENDPOINT = os.environ["EMULATOR_ENDPOINT"]
ORGANIZATION = "o-sraexample01"
MANAGEMENT = "900000000000"
SECURITY = "900000000001"  # the delegated administrator
MEMBERS = ["900000000002", "900000000003", "900000000004"]
REGIONS = ["us-east-1", "eu-west-1"]
CONFIGURATION_ROLE = "sra-detective-org-configuration"
DETECTIVE = "detective.amazonaws.com"
SERVICE_LINKED_ROLE = "AWSServiceRoleForDetective"
PACKAGES = ["EKS_AUDIT", "DETECTIVE_CORE"]


def control(method, path, body=None):
    """A call to the emulator's control endpoints (unsigned JSON)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{ENDPOINT}/_emulator{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"{}")


def world(roles=None, enforce_iam=False):
    """The organization: management account, delegated administrator and members, each with
    `roles` (the emulator's world model) when given."""
    accounts = []
    for account_id in [MANAGEMENT, SECURITY, *MEMBERS]:
        account = {
            "accountId": account_id,
            "email": f"root+{account_id}@example.com",
            "organization": ORGANIZATION,
        }
        if roles is not None:
            account["roles"] = roles
        accounts.append(account)
    return {
        "organizations": [{"id": ORGANIZATION, "managementAccount": MANAGEMENT}],
        "accounts": accounts,
        "enforceIam": enforce_iam,
    }


def session(account_id):
    """A boto3 session acting as `account_id` (the emulator reads the access key id as the account)."""
    return boto3.Session(
        aws_access_key_id=account_id,
        aws_secret_access_key="emulator-secret",
        region_name="us-east-1",
    )


def client(boto_session, service, region="us-east-1"):
    return boto_session.client(service, region_name=region, endpoint_url=ENDPOINT)


def assume_role(role, session_name, account, base):
    """common.assume_role: who am I (for the partition), then AssumeRole into `account`."""
    sts = client(base, "sts")
    arn = sts.get_caller_identity()["Arn"]
    partition = arn.split(":")[1]
    assumed = sts.assume_role(RoleArn=f"arn:{partition}:iam::{account}:role/{role}", RoleSessionName=session_name)
    credentials = assumed["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="us-east-1",
    )


def ensure_service_linked_role(iam):
    """common.create_service_linked_role: GetRole, and CreateServiceLinkedRole only when absent.
    Answers whether it created the role."""
    try:
        iam.get_role(RoleName=SERVICE_LINKED_ROLE)
        return False
    except iam.exceptions.NoSuchEntityException:
        iam.create_service_linked_role(
            AWSServiceName=DETECTIVE,
            Description="A service-linked role required for Amazon Detective to access your resources.",
        )
        return True


class SecurityReferenceArchitecture:
    """The SRA's setup and teardown, as the management account runs them."""

    def __init__(self):
        self.management = session(MANAGEMENT)
        self.organizations = client(self.management, "organizations")
        self.created_roles = []

    def enabled_regions(self):
        """common.get_enabled_regions: a Region is enabled when STS answers there."""
        enabled = []
        for region in REGIONS:
            client(self.management, "sts", region).get_caller_identity()
            enabled.append(region)
        return enabled

    def active_accounts(self, excluded):
        """common.get_active_organization_accounts."""
        accounts = []
        pages = self.organizations.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 20})
        for page in pages:
            for account in page["Accounts"]:
                if account["Status"] == "ACTIVE" and account["Id"] not in excluded:
                    accounts.append({"AccountId": account["Id"], "Email": account["Email"]})
        return accounts

    def trusted(self):
        listed = self.organizations.list_aws_service_access_for_organization()
        return [enabled["ServicePrincipal"] for enabled in listed["EnabledServicePrincipals"]]

    def enable_trusted_access(self):
        if DETECTIVE not in self.trusted():
            self.organizations.enable_aws_service_access(ServicePrincipal=DETECTIVE)

    def service_linked_role(self, account_id):
        """detective.create_service_linked_role: through the configuration role of the account."""
        account_session = assume_role(CONFIGURATION_ROLE, "sra-detective-create-srl", account_id, self.management)
        if ensure_service_linked_role(client(account_session, "iam")):
            self.created_roles.append(account_id)

    def setup_region(self, region, accounts):
        detective = client(self.management, "detective", region)
        if not detective.list_organization_admin_accounts()["Administrators"]:
            detective.enable_organization_admin_account(AccountId=SECURITY)
        administrator = assume_role(CONFIGURATION_ROLE, "sra-org-detective-setup", SECURITY, self.management)
        detective = client(administrator, "detective", region)
        graphs = detective.list_graphs()["GraphList"]
        graph_arn = graphs[0]["Arn"]
        detective.update_organization_configuration(AutoEnable=True, GraphArn=graph_arn)
        enabled = self.enabled_members(detective, graph_arn)
        to_add = [
            {"AccountId": account["AccountId"], "EmailAddress": account["Email"]}
            for account in accounts
            if account["AccountId"] not in enabled
        ]
        for call in range(math.ceil(len(to_add) / 50)):
            created = detective.create_members(
                GraphArn=graph_arn, DisableEmailNotification=True, Accounts=to_add[call * 50 : call * 50 + 50]
            )
            if created["UnprocessedAccounts"]:
                raise AssertionError(f"unprocessed accounts: {created['UnprocessedAccounts']}")
        detective.update_datasource_packages(GraphArn=graph_arn, DatasourcePackages=PACKAGES)
        return detective, graph_arn

    @staticmethod
    def enabled_members(detective, graph_arn):
        """detective.get_detective_member_accounts: 10 on the first page, 200 on the next."""
        members = []
        page = detective.list_members(GraphArn=graph_arn, MaxResults=10)
        while True:
            members += [m["AccountId"] for m in page["MemberDetails"] if m["Status"] == "ENABLED"]
            if "NextToken" not in page:
                return members
            page = detective.list_members(GraphArn=graph_arn, MaxResults=200, NextToken=page["NextToken"])

    def setup(self):
        """app.process_add_update_event: the whole setup; answers the delegated administrator's
        Detective client and graph ARN per Region."""
        accounts = self.active_accounts(excluded=[SECURITY])
        regions = self.enabled_regions()
        self.enable_trusted_access()
        self.service_linked_role(MANAGEMENT)
        for account in accounts:
            self.service_linked_role(account["AccountId"])
        return {region: self.setup_region(region, accounts) for region in regions}

    def teardown(self):
        """app.disable_detective_service."""
        self.organizations.deregister_delegated_administrator(AccountId=SECURITY, ServicePrincipal=DETECTIVE)
        self.organizations.disable_aws_service_access(ServicePrincipal=DETECTIVE)


class SraDetectiveSetup(unittest.TestCase):
    def setUp(self):
        control("PUT", "/world", world())
        control("DELETE", "/state")
        control("DELETE", "/calls")

    def test_caller_identity_names_the_account_in_its_partition(self):
        identity = client(session(MANAGEMENT), "sts").get_caller_identity()
        self.assertEqual(identity["Account"], MANAGEMENT)
        self.assertEqual(identity["Arn"], f"arn:aws:iam::{MANAGEMENT}:root")
        gov = client(session(MANAGEMENT), "sts", "us-gov-west-1").get_caller_identity()
        self.assertEqual(gov["Arn"], f"arn:aws-us-gov:iam::{MANAGEMENT}:root")
        role = assume_role(CONFIGURATION_ROLE, "s-1", MEMBERS[0], session(MANAGEMENT))
        assumed = client(role, "sts").get_caller_identity()
        self.assertEqual(assumed["Account"], MEMBERS[0])
        self.assertEqual(assumed["Arn"], f"arn:aws:sts::{MEMBERS[0]}:assumed-role/{CONFIGURATION_ROLE}/s-1")
        with self.assertRaises(botocore.exceptions.ClientError) as refused:
            client(session(MANAGEMENT), "sts").get_session_token()
        self.assertEqual(refused.exception.response["Error"]["Code"], "InvalidAction")
        self.assertEqual(control("GET", "/calls").get("UnknownStsAction"), 1)

    def test_the_sra_sets_detective_up_and_a_second_run_changes_nothing(self):
        sra = SecurityReferenceArchitecture()
        graphs = sra.setup()

        self.assertIn(DETECTIVE, sra.trusted())
        self.assertEqual(
            sra.created_roles,
            MEMBERS,
            "trusted access made the management account's role, so GetRole found it there",
        )
        for region, (detective, graph_arn) in graphs.items():
            with self.subTest(region=region):
                self.assertTrue(graph_arn.startswith(f"arn:aws:detective:{region}:{SECURITY}:graph:"), graph_arn)
                admins = client(sra.management, "detective", region).list_organization_admin_accounts()
                self.assertEqual([a["AccountId"] for a in admins["Administrators"]], [SECURITY])
                self.assertTrue(detective.describe_organization_configuration(GraphArn=graph_arn)["AutoEnable"])
                self.assertEqual(
                    sorted(sra.enabled_members(detective, graph_arn)),
                    sorted([MANAGEMENT, *MEMBERS]),
                )
                packages = detective.list_datasource_packages(GraphArn=graph_arn)["DatasourcePackages"]
                self.assertEqual(packages["EKS_AUDIT"]["DatasourcePackageIngestState"], "STARTED")

        calls = control("GET", "/calls")
        self.assertEqual(calls.get("EnableAWSServiceAccess"), 1)
        self.assertEqual(calls.get("EnableOrganizationAdminAccount"), len(REGIONS))
        self.assertEqual(calls.get("CreateServiceLinkedRole"), len(MEMBERS))
        self.assertNotIn("UnknownOperation", calls)

        control("DELETE", "/calls")
        second = SecurityReferenceArchitecture()
        second.setup()
        self.assertEqual(second.created_roles, [], "every role is found the second time")
        calls = control("GET", "/calls")
        for write in ["EnableAWSServiceAccess", "EnableOrganizationAdminAccount", "CreateServiceLinkedRole", "CreateMembers"]:
            self.assertNotIn(write, calls, f"a second run calls no {write}")

    def test_delegating_the_administrator_creates_the_role_that_get_role_then_finds(self):
        management = session(MANAGEMENT)
        iam = client(management, "iam")
        with self.assertRaises(iam.exceptions.NoSuchEntityException):
            iam.get_role(RoleName=SERVICE_LINKED_ROLE)
        client(management, "detective").enable_organization_admin_account(AccountId=SECURITY)
        role = iam.get_role(RoleName=SERVICE_LINKED_ROLE)["Role"]
        self.assertEqual(role["Arn"], f"arn:aws:iam::{MANAGEMENT}:role/aws-service-role/{DETECTIVE}/{SERVICE_LINKED_ROLE}")
        self.assertIn(DETECTIVE, SecurityReferenceArchitecture().trusted(), "trusted access granted on the way")
        administrator = client(session(SECURITY), "iam")
        with self.assertRaises(administrator.exceptions.NoSuchEntityException):
            administrator.get_role(RoleName=SERVICE_LINKED_ROLE)

    def test_creating_the_role_again_is_invalid_input(self):
        iam = client(session(MEMBERS[0]), "iam")
        iam.create_service_linked_role(AWSServiceName=DETECTIVE)
        with self.assertRaises(botocore.exceptions.ClientError) as refused:
            iam.create_service_linked_role(AWSServiceName=DETECTIVE)
        error = refused.exception.response
        self.assertEqual(error["Error"]["Code"], "InvalidInput")
        self.assertEqual(error["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertIn(SERVICE_LINKED_ROLE, error["Error"]["Message"])
        role = iam.get_role(RoleName=SERVICE_LINKED_ROLE)["Role"]
        self.assertEqual(role["Path"], f"/aws-service-role/{DETECTIVE}/")
        self.assertEqual(role["Arn"], f"arn:aws:iam::{MEMBERS[0]}:role/aws-service-role/{DETECTIVE}/{SERVICE_LINKED_ROLE}")
        self.assertEqual(role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"], {"Service": DETECTIVE})

    def test_the_sra_teardown_deregisters_and_withdraws_trusted_access(self):
        sra = SecurityReferenceArchitecture()
        sra.setup()
        sra.teardown()
        self.assertNotIn(DETECTIVE, sra.trusted())
        listed = sra.organizations.list_delegated_administrators(ServicePrincipal=DETECTIVE)
        self.assertEqual(listed["DelegatedAdministrators"], [])
        with self.assertRaises(sra.organizations.exceptions.AccountNotRegisteredException):
            sra.teardown()


class EnforcedIam(unittest.TestCase):
    """With `enforceIam`, the configuration role's policy decides its IAM calls, as for every
    other action: the condition on iam:AWSServiceName included."""

    def setUp(self):
        self.policies = tempfile.TemporaryDirectory()
        control("DELETE", "/state")
        control("DELETE", "/calls")

    def tearDown(self):
        self.policies.cleanup()

    def role_allowed(self, statements):
        path = os.path.join(self.policies.name, f"policy-{len(os.listdir(self.policies.name))}.json")
        with open(path, "w") as policy:
            json.dump({"Version": "2012-10-17", "Statement": statements}, policy)
        role = {"name": CONFIGURATION_ROLE, "trustedAccounts": [MANAGEMENT], "policyFiles": [path]}
        control("PUT", "/world", world(roles=[role], enforce_iam=True))
        return client(assume_role(CONFIGURATION_ROLE, "sra-enforced", MEMBERS[0], session(MANAGEMENT)), "iam")

    def test_the_role_policy_decides_get_role_and_create_service_linked_role(self):
        iam = self.role_allowed([{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}])
        with self.assertRaises(iam.exceptions.NoSuchEntityException):
            iam.get_role(RoleName=SERVICE_LINKED_ROLE)
        with self.assertRaises(botocore.exceptions.ClientError) as refused:
            iam.create_service_linked_role(AWSServiceName=DETECTIVE)
        self.assertEqual(refused.exception.response["Error"]["Code"], "AccessDenied")
        self.assertEqual(control("GET", "/calls/refused"), {"CreateServiceLinkedRole": 1})

        other_service = {"StringEquals": {"iam:AWSServiceName": "guardduty.amazonaws.com"}}
        iam = self.role_allowed(
            [{"Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*", "Condition": other_service}]
        )
        with self.assertRaises(botocore.exceptions.ClientError) as refused:
            iam.create_service_linked_role(AWSServiceName=DETECTIVE)
        self.assertEqual(refused.exception.response["Error"]["Code"], "AccessDenied")

        detective_only = {"StringEquals": {"iam:AWSServiceName": DETECTIVE}}
        iam = self.role_allowed(
            [
                {"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"},
                {"Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*", "Condition": detective_only},
            ]
        )
        self.assertTrue(ensure_service_linked_role(iam), "allowed: created")
        self.assertFalse(ensure_service_linked_role(iam), "and found afterwards")


if __name__ == "__main__":
    unittest.main(verbosity=2)
